package org.hvbench.core.cpu;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.hvbench.core.mem.AddressSpace;

/**
 * A context: (domain, privilege level, address space), and the off-heap area its registers are saved
 * to while another context runs. Names are what the trace prints: {@code guest-app},
 * {@code guest-kernel}, {@code hypervisor}, {@code device}.
 */
public final class Context {
    /**
     * Bytes of the register save area: what an x86-64 Linux kernel saves on every entry
     * ({@code struct pt_regs}: 15 general registers, the system-call number, rip, cs, rflags, rsp, ss).
     */
    public static final int SAVE_AREA_BYTES = 21 * 8;

    private final String name;
    private final int domainId;
    private final PrivilegeLevel level;
    private final AddressSpace space;
    private final UnsafeBuffer saveArea;
    /** Modelled time of the work done in this context on any CPU; written by the CPU running it (single writer). */
    private long picos;

    /**
     * @param space the address space this context runs in; {@code null} only for a device
     */
    public Context(String name, int domainId, PrivilegeLevel level, AddressSpace space) {
        if (space == null && level != PrivilegeLevel.DEVICE) {
            throw new IllegalArgumentException("context " + name + ": only a device context runs without an address space");
        }
        this.name = name;
        this.domainId = domainId;
        this.level = level;
        this.space = space;
        this.saveArea = new UnsafeBuffer(BufferUtil.allocateDirectAligned(SAVE_AREA_BYTES, 64));
    }

    public static Context device(String name, int ownerId) {
        return new Context(name, ownerId, PrivilegeLevel.DEVICE, null);
    }

    public String name() {
        return name;
    }

    public int domainId() {
        return domainId;
    }

    public PrivilegeLevel level() {
        return level;
    }

    public AddressSpace space() {
        return space;
    }

    /**
     * Modelled picoseconds of the work done in this context so far: the crossings that entered it and
     * what it did there (the cost-profile time of {@link Cpu}, split by who did the work). Exact when
     * read while the CPU running it is quiet.
     */
    public long picos() {
        return picos;
    }

    void charge(long picoseconds) {
        picos += picoseconds;
    }

    UnsafeBuffer saveArea() {
        return saveArea;
    }

    @Override
    public String toString() {
        return name;
    }
}
