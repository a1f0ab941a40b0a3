package org.hvbench.core.mem;

/**
 * An address space: a page table and the id its TLB entries are tagged with. A guest domain's
 * space maps guest-physical to machine addresses; a native kernel's maps its virtual addresses.
 */
public final class AddressSpace {
    private final String name;
    private final PageTable table;
    private final int asid;

    public AddressSpace(String name, PageTable table, int asid) {
        if (asid < 0 || asid > Tlb.MAX_ASID) {
            throw new IllegalArgumentException("asid must be 0.." + Tlb.MAX_ASID + "; got " + asid);
        }
        this.name = name;
        this.table = table;
        this.asid = asid;
    }

    public String name() {
        return name;
    }

    public PageTable table() {
        return table;
    }

    public int asid() {
        return asid;
    }

    @Override
    public String toString() {
        return name + "(asid " + asid + ")";
    }
}
