package org.hvbench.core.hv;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * A domain: id, name, label, privilege, its guest-physical memory (a p2m page table in hypervisor
 * frames mapping guest frames {@code 0..pages-1} to machine frames the domain owns), and the two
 * contexts its one vCPU runs in, {@code <name>-kernel} and {@code <name>-app}.
 */
public final class Domain {
    private final int id;
    private final String name;
    private final String label;
    private final boolean privileged;
    private final AddressSpace space;
    private final int pages;
    private final Context kernel;
    private final Context app;
    private VirtualInterruptHandler virqHandler;
    private boolean virqPending;

    Domain(int id, String name, String label, boolean privileged, AddressSpace space, int pages) {
        this.id = id;
        this.name = name;
        this.label = label;
        this.privileged = privileged;
        this.space = space;
        this.pages = pages;
        this.kernel = new Context(name + "-kernel", id, PrivilegeLevel.KERNEL, space);
        this.app = new Context(name + "-app", id, PrivilegeLevel.USER, space);
    }

    public int id() {
        return id;
    }

    public String name() {
        return name;
    }

    public String label() {
        return label;
    }

    public boolean privileged() {
        return privileged;
    }

    /** Guest-physical to machine. */
    public AddressSpace space() {
        return space;
    }

    /** Guest-physical pages, mapped from guest frame 0. */
    public int pages() {
        return pages;
    }

    public long memoryBytes() {
        return (long) pages << MachineMemory.PAGE_SHIFT;
    }

    public Context kernel() {
        return kernel;
    }

    public Context app() {
        return app;
    }

    /** The machine frame behind a guest frame (a walk without a TLB), or a negative errno. */
    public long machineFrame(long gfn) {
        long t = space.table().translate(gfn << MachineMemory.PAGE_SHIFT);
        return t < 0 ? t : Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT;
    }

    /** The guest kernel registers its virtual-interrupt entry (set-up, Xen's set_callbacks). */
    public void setVirqHandler(VirtualInterruptHandler handler) {
        this.virqHandler = handler;
    }

    VirtualInterruptHandler virqHandler() {
        return virqHandler;
    }

    void markVirqPending() {
        virqPending = true;
    }

    boolean takeVirqPending() {
        boolean was = virqPending;
        virqPending = false;
        return was;
    }

    @Override
    public String toString() {
        return name + "(dom" + id + ")";
    }
}
