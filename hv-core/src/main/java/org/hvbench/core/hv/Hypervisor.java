package org.hvbench.core.hv;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/**
 * The hypervisor: domains (dom0, privileged, created at boot), the hypercall register ABI, trapped
 * privileged instructions, virtual interrupt delivery, and the access-control hooks.
 *
 * <p>Entry and exit are crossings: a hypercall is {@link Crossing#HYPERCALL} in and
 * {@link Crossing#VMENTRY} out (or {@link Crossing#VIRQ} when a virtual interrupt is injected on the way
 * back); a trapped instruction is {@link Crossing#VMEXIT} in. The hypervisor runs in its own address
 * space, a direct map of machine memory (hypervisor virtual = machine address, 2 MiB superpages),
 * and reads guest memory only through the guest's p2m, copying what it will act on into a per-CPU
 * private area first.
 *
 * <p>A guest cannot make it throw: every guest-supplied value is checked and a bad one gets a
 * negative errno. Exceptions are for misuse by the host program (building domains, wiring CPUs).
 */
public final class Hypervisor {
    public static final int DOMID_XEN = FrameAllocator.OWNER_HYPERVISOR;
    public static final int MAX_DOMAINS = 256;
    public static final int MAX_CPUS = 64;
    public static final long DEFAULT_DOM0_BYTES = 4L << 20;
    /** Private pages per CPU: copies of guest requests land here before they are checked. */
    static final int SCRATCH_PAGES = 2;
    static final int SCRATCH_CONSOLE = MachineMemory.PAGE_SIZE;
    static final int SCRATCH_MULTICALL = SCRATCH_CONSOLE + Hypercall.CONSOLE_MAX_BYTES;
    static final int SCRATCH_COMMAND = SCRATCH_MULTICALL + Hypercall.MULTICALL_ENTRY_BYTES;

    private final Machine machine;
    private final MachineMemory memory;
    private final FrameAllocator frames;
    private final AddressSpace space;
    private final Context[] contexts = new Context[MAX_CPUS];
    private final long[] scratchVa = new long[MAX_CPUS];
    private final Context deviceContext;
    private final Domain[] domains = new Domain[MAX_DOMAINS];
    private final Domain dom0;
    private final byte[] console = new byte[64 << 10];
    private int consoleBytes;
    private AccessControl accessControl = AccessControl.PERMIT_ALL;
    private HypervisorBlockDriver blockDriver;
    private long hypercalls;
    private long vmexits;

    public Hypervisor(Machine machine) {
        this(machine, DEFAULT_DOM0_BYTES);
    }

    /** Boots: builds the hypervisor's direct map, then dom0 with {@code dom0Bytes} of memory. */
    public Hypervisor(Machine machine, long dom0Bytes) {
        this.machine = machine;
        this.memory = machine.memory();
        this.frames = machine.frames();
        PageTable table = new PageTable(frames, machine.config().pageTableLevels(), DOMID_XEN);
        mapDirect(table);
        this.space = new AddressSpace("hypervisor", table, machine.newAsid());
        this.deviceContext = Context.device("device", FrameAllocator.OWNER_IO);
        this.dom0 = createDomain("dom0", "dom0", dom0Bytes, true);
    }

    private void mapDirect(PageTable table) {
        long bytes = memory.bytes();
        long ma = 0;
        while (ma < bytes) {
            boolean big = (ma & ((1L << PageTable.SHIFT_2M) - 1)) == 0 && bytes - ma >= 1L << PageTable.SHIFT_2M;
            int shift = big ? PageTable.SHIFT_2M : PageTable.SHIFT_4K;
            int r = table.map(ma, ma, shift, Translation.READ | Translation.WRITE);
            if (r < 0) {
                throw new IllegalStateException("memory: cannot build the hypervisor's direct map (" + Errno.name(r) + ")");
            }
            ma += 1L << shift;
        }
    }

    /**
     * Creates a domain with {@code bytes} of guest-physical memory (whole 4 KiB pages), after asking
     * the access-control module.
     *
     * @throws IllegalArgumentException for a bad size or name
     * @throws IllegalStateException when access control refuses or memory runs out
     */
    public Domain createDomain(String name, String label, long bytes, boolean privileged) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("domain name must not be empty");
        }
        if (bytes < MachineMemory.PAGE_SIZE || (bytes & MachineMemory.PAGE_MASK) != 0 || bytes > memory.bytes()) {
            throw new IllegalArgumentException("domain memory: " + bytes + " bytes is not allowed; give whole 4 KiB pages, at"
                + " most the machine's " + memory.bytes() + " bytes");
        }
        int verdict = accessControl.domainCreate(name, label, privileged);
        if (verdict < 0) {
            throw new IllegalStateException("access control refused creating domain " + name + " (label " + label + "): "
                + Errno.name(verdict));
        }
        int id = -1;
        for (int i = 0; i < MAX_DOMAINS; i++) {
            if (domains[i] == null) {
                id = i;
                break;
            }
        }
        if (id < 0) {
            throw new IllegalStateException("no free domain id: at most " + MAX_DOMAINS + " domains");
        }
        int pages = (int) (bytes >>> MachineMemory.PAGE_SHIFT);
        PageTable p2m = new PageTable(frames, machine.config().pageTableLevels(), DOMID_XEN);
        for (int gfn = 0; gfn < pages; gfn++) {
            long mfn = frames.allocate(id);
            int r = mfn < 0 ? (int) mfn
                : p2m.map((long) gfn << MachineMemory.PAGE_SHIFT, mfn << MachineMemory.PAGE_SHIFT, PageTable.SHIFT_4K,
                    Translation.READ | Translation.WRITE);
            if (r < 0) {
                releaseMemory(id, p2m, gfn + (mfn < 0 ? 0 : 1));
                throw new IllegalStateException("memory: not enough free frames to build domain " + name + " ("
                    + pages + " pages asked, " + frames.freeFrames() + " frames free)");
            }
        }
        Domain d = new Domain(id, name, label, privileged, new AddressSpace(name, p2m, machine.newAsid()), pages);
        domains[id] = d;
        return d;
    }

    private void releaseMemory(int id, PageTable p2m, int mapped) {
        for (int gfn = 0; gfn < mapped; gfn++) {
            long t = p2m.translate((long) gfn << MachineMemory.PAGE_SHIFT);
            if (t >= 0) {
                frames.free(Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT, id);
            }
        }
        p2m.destroy();
    }

    /** Replaces the access-control module (sHype plugs in here). */
    public void setAccessControl(AccessControl module) {
        this.accessControl = module == null ? AccessControl.PERMIT_ALL : module;
    }

    public AccessControl accessControl() {
        return accessControl;
    }

    /**
     * Lets {@code cpu} enter the hypervisor: its hypervisor context and private area. Set-up, before
     * the CPU runs guests.
     */
    public Context attach(Cpu cpu) {
        int id = cpu.id();
        if (id < 0 || id >= MAX_CPUS) {
            throw new IllegalArgumentException("cpu id " + id + " outside 0.." + (MAX_CPUS - 1));
        }
        if (contexts[id] == null) {
            long mfn = frames.allocateContiguous(SCRATCH_PAGES, 1, DOMID_XEN);
            if (mfn < 0) {
                throw new IllegalStateException("memory: no free frames for the hypervisor's per-CPU area");
            }
            scratchVa[id] = mfn << MachineMemory.PAGE_SHIFT;
            contexts[id] = new Context("hypervisor", DOMID_XEN, PrivilegeLevel.HYPERVISOR, space);
        }
        return contexts[id];
    }

    /** The hypervisor's context on {@code cpu}. */
    public Context context(Cpu cpu) {
        Context c = contexts[cpu.id()];
        if (c == null) {
            throw new IllegalStateException("cpu " + cpu.name() + " was not attached to the hypervisor");
        }
        return c;
    }

    long scratch(Cpu cpu) {
        return scratchVa[cpu.id()];
    }

    /**
     * Puts the machine's block device under the hypervisor's own driver (the placement "driver in the
     * hypervisor"); its interrupts are taken on {@code cpu}.
     */
    public HypervisorBlockDriver attachBlockDevice(Cpu cpu, int vector) {
        if (blockDriver != null) {
            throw new IllegalStateException("the block device already has a driver in the hypervisor");
        }
        attach(cpu);
        blockDriver = new HypervisorBlockDriver(this, machine, cpu, vector);
        return blockDriver;
    }

    public HypervisorBlockDriver blockDriver() {
        return blockDriver;
    }

    /**
     * The paravirtual entry: {@link Crossing#HYPERCALL} from the calling guest kernel, dispatch,
     * then back to it. Arguments are registers; pointers are guest-physical addresses.
     *
     * @return {@code >= 0}, or a negative errno; {@code -EPERM} when called from user level (no
     *     crossing happens), {@code -ENOSYS} for an unknown operation
     */
    public long hypercall(Cpu cpu, int op, long a0, long a1, long a2, long a3) {
        Domain d = callerDomain(cpu);
        if (d == null) {
            return -Errno.EPERM;
        }
        hypercalls++;
        cpu.switchTo(Crossing.HYPERCALL, context(cpu), entryReason(op, a0));
        long result = dispatch(cpu, d, op, a0, a1, a2, a3);
        resumeGuest(cpu, d, "the hypervisor returns to the guest kernel");
        return result;
    }

    /**
     * A trapped privileged instruction of a guest kernel: {@link Crossing#VMEXIT}, emulation, and the
     * return to the guest. The guest sees no return value, as after a real instruction; the result is
     * for tests.
     *
     * @return 0, or a negative errno describing what the emulation refused
     */
    public long vmexit(Cpu cpu, int reason, long qualification, long value) {
        Domain d = callerDomain(cpu);
        if (d == null) {
            return -Errno.EPERM;
        }
        vmexits++;
        cpu.switchTo(Crossing.VMEXIT, context(cpu), reason == VmExit.MMIO_WRITE && qualification == BlockDevice.REG_DOORBELL
            ? "start-I/O traps: the doorbell write exits to the hypervisor" : "privileged instruction traps to the hypervisor");
        long result;
        if (reason == VmExit.MMIO_WRITE && blockDriver != null) {
            result = blockDriver.onMmioWrite(cpu, d, (int) qualification, value);
        } else {
            result = -Errno.EINVAL;
        }
        resumeGuest(cpu, d, "the hypervisor resumes the guest kernel");
        return result;
    }

    private Domain callerDomain(Cpu cpu) {
        Context c = cpu.current();
        if (c == null || c.level() != PrivilegeLevel.KERNEL) {
            return null;
        }
        int id = c.domainId();
        Domain d = id >= 0 && id < MAX_DOMAINS ? domains[id] : null;
        return d != null && d.kernel() == c ? d : null;
    }

    private static String entryReason(int op, long a0) {
        if (op == Hypercall.BLOCK_IO && a0 == Hypercall.BLOCK_SUBMIT) {
            return "paravirtual driver hands the requests to the hypervisor";
        }
        return "hypercall";
    }

    /** Back to the guest kernel: a VMENTRY, or a VIRQ when an interrupt is to be injected on entry. */
    private void resumeGuest(Cpu cpu, Domain d, String what) {
        if (d.takeVirqPending() && d.virqHandler() != null) {
            cpu.switchTo(Crossing.VIRQ, d.kernel(), "the hypervisor resumes the guest kernel with a virtual interrupt");
            d.virqHandler().onVirq(cpu);
        } else {
            cpu.switchTo(Crossing.VMENTRY, d.kernel(), what);
        }
    }

    /**
     * Delivers the pending virtual interrupts from the hypervisor's context (after a device
     * interrupt): a VIRQ into each domain that has one, an idle switch back between domains.
     */
    void deliverVirtualInterrupts(Cpu cpu) {
        Context self = context(cpu);
        boolean first = true;
        for (int i = 0; i < MAX_DOMAINS; i++) {
            Domain d = domains[i];
            if (d != null && d.virqHandler() != null && d.takeVirqPending()) {
                if (!first) {
                    cpu.idleSwitch(self);
                }
                first = false;
                cpu.switchTo(Crossing.VIRQ, d.kernel(), "the hypervisor delivers a virtual interrupt to the guest kernel");
                d.virqHandler().onVirq(cpu);
            }
        }
    }

    private long dispatch(Cpu cpu, Domain d, int op, long a0, long a1, long a2, long a3) {
        switch (op) {
            case Hypercall.CONSOLE_IO:
                return consoleIo(cpu, d, a0, a1, a2);
            case Hypercall.MULTICALL:
                return multicall(cpu, d, a0, a1);
            case Hypercall.BLOCK_IO:
                return blockDriver == null ? -Errno.ENOSYS : blockDriver.hypercall(cpu, d, a0, a1, a2);
            default:
                return -Errno.ENOSYS;
        }
    }

    private long consoleIo(Cpu cpu, Domain d, long cmd, long length, long gpa) {
        if (cmd != Hypercall.CONSOLE_WRITE) {
            return -Errno.EINVAL;
        }
        if (length < 0 || length > Hypercall.CONSOLE_MAX_BYTES) {
            return -Errno.EINVAL;
        }
        int n = (int) length;
        long privateVa = scratch(cpu) + SCRATCH_CONSOLE;
        int r = cpu.copy(d.space(), gpa, space, privateVa, n);
        if (r < 0) {
            return r;
        }
        long ma = cpu.translate(space, privateVa, Translation.READ);
        for (int i = 0; i < n; i++) {
            console[consoleBytes % console.length] = memory.getByte(ma + i);
            consoleBytes++;
        }
        return n;
    }

    private long multicall(Cpu cpu, Domain d, long gpa, long count) {
        if (count < 1 || count > Hypercall.MULTICALL_MAX) {
            return -Errno.EINVAL;
        }
        long privateVa = scratch(cpu) + SCRATCH_MULTICALL;
        for (int i = 0; i < count; i++) {
            long entryGpa = gpa + (long) i * Hypercall.MULTICALL_ENTRY_BYTES;
            int r = cpu.copy(d.space(), entryGpa, space, privateVa, Hypercall.MULTICALL_ENTRY_BYTES);
            if (r < 0) {
                return r;
            }
            long ma = cpu.translate(space, privateVa, Translation.READ);
            long op = memory.getLong(ma + Hypercall.MULTICALL_OP);
            long a0 = memory.getLong(ma + Hypercall.MULTICALL_ARGS);
            long a1 = memory.getLong(ma + Hypercall.MULTICALL_ARGS + 8);
            long a2 = memory.getLong(ma + Hypercall.MULTICALL_ARGS + 16);
            long a3 = memory.getLong(ma + Hypercall.MULTICALL_ARGS + 24);
            long result = op == Hypercall.MULTICALL ? -Errno.EINVAL
                : op < 0 || op > Integer.MAX_VALUE ? -Errno.ENOSYS
                : dispatch(cpu, d, (int) op, a0, a1, a2, a3);
            long resultMa = cpu.translate(d.space(), entryGpa + Hypercall.MULTICALL_RESULT, Translation.WRITE);
            if (resultMa < 0) {
                return resultMa;
            }
            memory.putLong(resultMa, result);
        }
        return 0;
    }

    /** What guests wrote to the console (the last 64 KiB). */
    public String console() {
        int n = Math.min(consoleBytes, console.length);
        byte[] out = new byte[n];
        for (int i = 0; i < n; i++) {
            out[i] = console[(consoleBytes - n + i) % console.length];
        }
        return new String(out, StandardCharsets.UTF_8);
    }

    public Machine machine() {
        return machine;
    }

    public AddressSpace space() {
        return space;
    }

    public Context deviceContext() {
        return deviceContext;
    }

    public Domain dom0() {
        return dom0;
    }

    /** The domain of an id, or {@code null}. */
    public Domain domain(int id) {
        return id >= 0 && id < MAX_DOMAINS ? domains[id] : null;
    }

    public List<Domain> domains() {
        List<Domain> out = new ArrayList<>();
        for (Domain d : domains) {
            if (d != null) {
                out.add(d);
            }
        }
        return out;
    }

    public long hypercalls() {
        return hypercalls;
    }

    public long vmexits() {
        return vmexits;
    }

    FrameAllocator frames() {
        return frames;
    }

    MachineMemory memory() {
        return memory;
    }
}
