package org.hvbench.core.hv;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.PageWalker;
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
    /** The private copy of a channel program: 64 commands of 16 bytes, ending inside the second page. */
    static final int SCRATCH_CHAIN = SCRATCH_COMMAND + BlockCommand.BYTES;

    private final Machine machine;
    private final MachineMemory memory;
    private final FrameAllocator frames;
    private final AddressSpace space;
    /** The inter-processor interrupt that brings a virtual interrupt to a domain's own CPU. */
    public static final int EVENT_VECTOR = 48;
    /** Hypercall numbers below this may be registered by subsystems. */
    public static final int MAX_HYPERCALL = 64;

    private final Context[] contexts = new Context[MAX_CPUS];
    private final Cpu[] cpus = new Cpu[MAX_CPUS];
    private final boolean[] eventVectorRegistered = new boolean[MAX_CPUS];
    private final HypercallHandler[] handlers = new HypercallHandler[MAX_HYPERCALL];
    private final long[] scratchVa = new long[MAX_CPUS];
    private final Context deviceContext;
    private final Domain[] domains = new Domain[MAX_DOMAINS];
    /** The next domain id: ids are handed out in order and never reused (see {@link #destroyDomain}). */
    private int nextId;
    private final List<DomainTeardown> teardowns = new ArrayList<>();
    private final List<Bindings> bindings = new ArrayList<>();
    private final Domain[] deviceOwners = new Domain[Iommu.MAX_DEVICES];
    private final Domain dom0;
    private final byte[] console = new byte[64 << 10];
    private int consoleBytes;
    private AccessControl accessControl = AccessControl.PERMIT_ALL;
    private HypervisorBlockDriver blockDriver;
    private final IommuOps iommuOps;
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
        this.iommuOps = new IommuOps(this, machine);
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
        if (nextId >= MAX_DOMAINS) {
            throw new IllegalStateException("no free domain id: a machine creates at most " + MAX_DOMAINS
                + " domains, and the id of a destroyed one is not reused");
        }
        int id = nextId;
        int pages = (int) (bytes >>> MachineMemory.PAGE_SHIFT);
        long sharedInfo = frames.allocate(DOMID_XEN);
        if (sharedInfo < 0) {
            throw new IllegalStateException("memory: no free frame for the shared-info page of domain " + name);
        }
        PageTable p2m = new PageTable(frames, machine.config().pageTableLevels(), DOMID_XEN);
        for (int gfn = 0; gfn < pages; gfn++) {
            long mfn = frames.allocate(id);
            int r = mfn < 0 ? (int) mfn
                : p2m.map((long) gfn << MachineMemory.PAGE_SHIFT, mfn << MachineMemory.PAGE_SHIFT, PageTable.SHIFT_4K,
                    Translation.READ | Translation.WRITE);
            if (r < 0) {
                releaseMemory(id, p2m, gfn + (mfn < 0 ? 0 : 1));
                frames.free(sharedInfo, DOMID_XEN);
                throw new IllegalStateException("memory: not enough free frames to build domain " + name + " ("
                    + pages + " pages asked, " + frames.freeFrames() + " frames free)");
            }
        }
        long sharedInfoMa = sharedInfo << MachineMemory.PAGE_SHIFT;
        int r = p2m.map((long) pages << MachineMemory.PAGE_SHIFT, sharedInfoMa, PageTable.SHIFT_4K,
            Translation.READ | Translation.WRITE);
        if (r < 0) {
            throw new IllegalStateException("memory: cannot map the shared-info page of domain " + name + ": " + Errno.name(r));
        }
        Domain d = new Domain(id, name, label, privileged, new AddressSpace(name, p2m, machine.newAsid()), pages, sharedInfoMa);
        domains[id] = d;
        nextId++;
        accessControl.domainCreated(d);
        return d;
    }

    /**
     * Destroys {@code d}, as Xen's {@code XEN_DOMCTL_destroydomain} does for the toolstack: the domain
     * stops running (no virtual interrupt enters it, no hypercall is taken from it); a device given to
     * it is blocked at the IOMMU, its I/O table freed and the device reset (the toolstack's
     * function-level reset); every {@link DomainTeardown} releases its part (event channels closed, so
     * the peers' ports are unbound; grant mappings released, so the granters' entries are no longer in
     * use); its address space is forgotten by every TLB and its page tables freed; and every frame it
     * owned is scrubbed and freed, with its shared-info page. Nothing of another domain is touched but
     * its grant entries' in-use flags and its ports.
     *
     * <p>Except the frames another domain still maps (a back end's grant mappings, an emulator's
     * foreign ones): that domain's device may have DMA under way into them, started before the
     * destruction, which no IOMMU invalidation here could stop once the device has translated its
     * addresses (and without an IOMMU nothing would). Those frames go into quarantine
     * ({@link FrameAllocator#OWNER_QUARANTINE}): owned by no domain, not free, so no allocation hands
     * them out. The mapper's own unmap, once its device has finished with them (a back end unmaps a
     * request's pages after its completion, and the rest when it closes the front end's connection),
     * shoots the mapping down in every TLB and, synchronously, the IOTLB, then scrubs the frame and
     * frees it. A mapper that never unmaps keeps them out of use, as a Xen zombie domain stays.
     *
     * <p>A host call, as {@link #createDomain} is: the toolstack that builds and kills domains is the
     * host program here, so no hypercall (and no privileged caller destroying itself mid-call) is needed.
     *
     * <p>Its id is not reused: other domains' grant entries and unbound ports may still name it, and
     * the hypervisor cannot find them all (a grant entry lives in its granter's memory). A new domain
     * with that id would be handed them; Xen's domid allocator likewise moves on instead of reusing.
     *
     * @throws IllegalArgumentException for dom0 or a domain that is not alive here
     * @throws IllegalStateException when another thread runs the domain's CPU: pause it first (stop
     *     the threaded executor), as Xen pauses a domain before it is torn down
     */
    public void destroyDomain(Domain d) {
        if (d == null || d.id() < 0 || d.id() >= MAX_DOMAINS || domains[d.id()] != d) {
            throw new IllegalArgumentException("destroyDomain: " + d + " is not a live domain of this hypervisor");
        }
        if (d == dom0) {
            throw new IllegalArgumentException("destroyDomain: dom0 cannot be destroyed");
        }
        Cpu home = d.vcpu();
        if (home != null && !home.ownedByCurrentThread()) {
            throw new IllegalStateException("destroyDomain: " + d + " still runs on " + home.name()
                + ", driven by another thread; stop the executor first");
        }
        domains[d.id()] = null;
        d.markDestroyed();
        accessControl.domainDestroyed(d);
        for (int dev = 0; dev < deviceOwners.length; dev++) {
            if (deviceOwners[dev] == d) {
                machine.iommu().block(dev);
                iommuOps.release(dev, d);
                if (dev == machine.device().deviceId()) {
                    machine.device().mmioWrite(BlockDevice.REG_CONTROL, 0);
                }
                deviceOwners[dev] = null;
            }
        }
        // Deferred invalidations are done before any frame of the domain changes hands.
        machine.iommu().flush();
        for (DomainTeardown t : teardowns) {
            t.release(d);
        }
        for (Cpu cpu : cpus) {
            if (cpu == null) {
                continue;
            }
            if (cpu.ownedByCurrentThread()) {
                cpu.tlb().flushAsid(d.space().asid());
            } else {
                cpu.requestTlbFlush();
            }
        }
        frames.reclaim(d.id());
        d.space().table().destroy();
        long sharedInfo = d.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT;
        memory.zeroFrame(sharedInfo);
        frames.free(sharedInfo, DOMID_XEN);
    }

    /** A subsystem's part of {@link #destroyDomain} (set-up, in the order they run). */
    public void addTeardown(DomainTeardown teardown) {
        teardowns.add(teardown);
    }

    /** A service whose bindings between domains a policy change must see (set-up). */
    public void addBindings(Bindings b) {
        bindings.add(b);
    }

    /** The services that bind domains to each other, in the order they were added. */
    public List<Bindings> bindings() {
        return Collections.unmodifiableList(bindings);
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

    /**
     * Replaces the frames behind {@code pages} RAM pages of {@code d} from {@code gpa} with machine-
     * contiguous ones (Xen's XENMEM_exchange): what a domain that drives a device without an IOMMU
     * needs for a DMA region of more than one page. The old frames are freed; contents are not kept.
     *
     * @return 0, {@code -EINVAL} for pages outside the domain's RAM, {@code -ENOMEM} when no run is free,
     *     {@code -EBUSY} when a page is mapped in an I/O table the domain manages ({@link Hypercall#IOMMU_OP})
     */
    public int exchangeContiguous(Domain d, long gpa, int pages) {
        if ((gpa & MachineMemory.PAGE_MASK) != 0 || pages < 1 || gpa < 0
            || gpa + ((long) pages << MachineMemory.PAGE_SHIFT) > d.memoryBytes()) {
            return -Errno.EINVAL;
        }
        for (int i = 0; i < pages; i++) {
            if (iommuOps.ioMapped(d.machineFrame((gpa >>> MachineMemory.PAGE_SHIFT) + i))) {
                // A device can reach the frame through the domain's own I/O table: it stays.
                return -Errno.EBUSY;
            }
        }
        long first = frames.allocateContiguous(pages, 1, d.id());
        if (first < 0) {
            return (int) first;
        }
        // Frames leave the domain below: no deferred invalidation may still reach them afterwards.
        machine.iommu().flush();
        PageTable p2m = d.space().table();
        for (int i = 0; i < pages; i++) {
            long page = gpa + ((long) i << MachineMemory.PAGE_SHIFT);
            long old = d.machineFrame(page >>> MachineMemory.PAGE_SHIFT);
            p2m.unmap(page);
            flushTlbs(d, page);
            frames.free(old, d.id());
            p2m.map(page, (first + i) << MachineMemory.PAGE_SHIFT, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
        }
        return 0;
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
            cpus[id] = cpu;
            registerEventVector(cpu);
        }
        return contexts[id];
    }

    /** {@link #EVENT_VECTOR} on {@code cpu} injects the virtual interrupts that wait for it. */
    private void registerEventVector(Cpu cpu) {
        if (!eventVectorRegistered[cpu.id()]) {
            eventVectorRegistered[cpu.id()] = true;
            cpu.interrupts().register(EVENT_VECTOR, (c, v) -> deliverVirtualInterrupts(c));
        }
    }

    /**
     * Gives {@code domain}'s vCPU its own CPU, run by its own thread in the threaded executor.
     * Virtual interrupts for it from other CPUs then become an inter-processor interrupt on
     * {@link #EVENT_VECTOR} of that CPU, whose handler injects them there. Set-up, before the
     * domain runs.
     */
    public void runOn(Domain domain, Cpu cpu) {
        attach(cpu);
        if (domain.vcpu() != null) {
            throw new IllegalStateException(domain + " already runs on " + domain.vcpu());
        }
        domain.setVcpu(cpu);
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
        registerHypercall(Hypercall.BLOCK_IO, blockDriver::hypercall);
        return blockDriver;
    }

    /**
     * Gives device {@code deviceId} to {@code d} after asking the access-control module: the device's
     * IOMMU context becomes the domain's p2m (guest-physical = I/O address, Xen's shared EPT), so
     * the device reaches exactly the domain's memory, its grant mappings included, and every TLB
     * shoot-down of the domain reaches the IOTLB too.
     *
     * @throws IllegalStateException when access control refuses, or the device's owner has built its own
     *     I/O table
     */
    public void assignDevice(int deviceId, Domain d) {
        if (iommuOps.ownsTable(deviceId)) {
            throw new IllegalStateException("device " + deviceId + " works in an I/O table its owner built (IOMMU_OP);"
                + " it cannot be given to " + d);
        }
        int verdict = accessControl.deviceAssign(d, deviceId);
        if (verdict < 0) {
            throw new IllegalStateException("access control refused giving device " + deviceId + " to " + d + ": "
                + Errno.name(verdict));
        }
        machine.iommu().attachTable(deviceId, d.space().table(), d.space().asid());
        deviceOwners[deviceId] = d;
        d.setOwnsDevice();
    }

    /** The domain device {@code deviceId} was given to, or {@code null}. */
    public Domain deviceOwner(int deviceId) {
        return deviceId >= 0 && deviceId < deviceOwners.length ? deviceOwners[deviceId] : null;
    }

    /**
     * Installs the handler of hypercall {@code op} (set-up; Xen's hypercall table).
     *
     * @throws IllegalArgumentException for a number outside the table or one built in
     * @throws IllegalStateException when the number already has a handler
     */
    public void registerHypercall(int op, HypercallHandler handler) {
        if (op < 0 || op >= MAX_HYPERCALL || op == Hypercall.MULTICALL || op == Hypercall.CONSOLE_IO || op == Hypercall.DM_OP
            || op == Hypercall.IOMMU_OP) {
            throw new IllegalArgumentException("hypercall " + op + " cannot be registered (0.." + (MAX_HYPERCALL - 1)
                + ", not a built-in one: multicall, console_io, dm_op, iommu_op)");
        }
        if (handlers[op] != null) {
            throw new IllegalStateException("hypercall " + op + " already has a handler");
        }
        handlers[op] = handler;
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
        boolean was = d.setInHypervisor(true);
        long result = dispatch(cpu, d, op, a0, a1, a2, a3);
        d.setInHypervisor(was);
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
        cpu.switchTo(Crossing.VMEXIT, context(cpu), exitReason(reason, qualification));
        boolean was = d.setInHypervisor(true);
        long result;
        if (reason == VmExit.MMIO_WRITE) {
            MmioHandler handler = d.mmioHandler();
            result = handler != null && qualification >= Integer.MIN_VALUE && qualification <= Integer.MAX_VALUE
                ? handler.mmioWrite(cpu, d, (int) qualification, value) : -Errno.EINVAL;
        } else if (reason == VmExit.START_IO) {
            ChannelHandler handler = d.channelHandler();
            result = handler != null ? handler.startIo(cpu, d, qualification, value) : -Errno.ENODEV;
        } else {
            result = -Errno.EINVAL;
        }
        d.setInHypervisor(was);
        resumeGuest(cpu, d, "the hypervisor resumes the guest kernel");
        return result;
    }

    private static String exitReason(int reason, long qualification) {
        if (reason == VmExit.MMIO_WRITE && qualification == BlockDevice.REG_DOORBELL) {
            return "start-I/O traps: the doorbell write exits to the hypervisor";
        }
        if (reason == VmExit.START_IO) {
            return "start-I/O traps: the channel program is handed to the hypervisor";
        }
        return "privileged instruction traps to the hypervisor";
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
        if (op == Hypercall.EVENT_CHANNEL_OP && a0 == Hypercall.EVTCHN_SEND) {
            return "event send: the kernel notifies the other end";
        }
        if (op == Hypercall.GRANT_TABLE_OP) {
            return "grant table operation";
        }
        if (op == Hypercall.IOMMU_OP) {
            return "the device's owner changes its I/O page table (iommu_op)";
        }
        if (op == Hypercall.DM_OP) {
            return "the partition kernel asks the hypervisor to interrupt the guest (dm_op)";
        }
        return "hypercall";
    }

    /** Back to the guest kernel: a VMENTRY, or a VIRQ when an interrupt is to be injected on entry. */
    private void resumeGuest(Cpu cpu, Domain d, String what) {
        if (!d.inHypervisor() && d.virqHandler() != null && d.takeVirqPending()) {
            d.setInHypervisor(true);
            // After the take: a sender leaves its events before it marks the interrupt.
            d.drainPendingEvents();
            cpu.switchTo(Crossing.VIRQ, d.kernel(), "the hypervisor resumes the guest kernel with a virtual interrupt");
            d.virqHandler().onVirq(cpu);
            d.setInHypervisor(false);
        } else {
            cpu.switchTo(Crossing.VMENTRY, d.kernel(), what);
        }
    }

    /**
     * Gives {@code target} a virtual interrupt. On this uniprocessor a domain that waits for events
     * runs at once: {@link Crossing#VIRQ} into its kernel, its handler, and, when the handler ends in
     * the kernel (it blocks), an idle switch back to the hypervisor. A domain that is itself suspended
     * in the hypervisor (mid-hypercall, or running a handler already) gets the interrupt on its next
     * entry instead ({@link #resumeGuest}). On the domain's own CPU the hypervisor first does what
     * senders left for it ({@link PendingEvents}, the FIFO links), so only that CPU's thread does it.
     */
    public void notify(Cpu cpu, Domain target, String what) {
        VirtualInterruptHandler handler = target.virqHandler();
        if (handler == null) {
            return;
        }
        Cpu home = target.vcpu();
        if (home != null && home != cpu) {
            // The domain runs on another CPU: mark the interrupt (volatile), then the IPI (a full
            // fence) kicks that CPU, whose EVENT_VECTOR handler injects it there.
            target.markVirqPending();
            home.interrupts().raise(EVENT_VECTOR);
            if (home.ownedByCurrentThread()) {
                // No thread runs that CPU yet (set-up, before the executor starts): this thread does.
                home.deliverInterrupts();
            }
            return;
        }
        // On the domain's own CPU: what senders left for it is done here, after any take of the
        // mark, never before (a sender leaves its events before it marks the interrupt).
        if (target.inHypervisor()) {
            // A kernel in its upcall (a handler's own send) sees the events before it leaves.
            target.drainPendingEvents();
            target.markVirqPending();
            return;
        }
        boolean was = target.setInHypervisor(true);
        target.takeVirqPending();
        target.drainPendingEvents();
        cpu.switchTo(Crossing.VIRQ, target.kernel(), what);
        handler.onVirq(cpu);
        target.setInHypervisor(was);
        if (cpu.current() == target.kernel()) {
            cpu.idleSwitch(context(cpu));
        }
    }

    /**
     * A kernel's upcall ({@code domain}'s, running on {@code cpu}) stopped at its bound on work with
     * events left: the virtual interrupt is delivered again at the next interrupt delivery of the
     * domain's CPU, after what the upcall interrupted has run (Xen re-injects the upcall on the next
     * entry while upcall_pending is set). Without this the events left would wait for the domain's
     * next hypercall, since upcall_pending stays set and no send kicks the vCPU again (XSA-391: the
     * bound must not lose events, nor may a peer's storm keep the guest in its upcall).
     */
    public void deferUpcall(Cpu cpu, Domain domain) {
        // The mark first (volatile), then the vector (a full fence): the CPU that takes it sees the mark.
        domain.markVirqPending();
        Cpu home = domain.vcpu() != null ? domain.vcpu() : cpu;
        home.interrupts().raise(EVENT_VECTOR);
    }

    /** Delivers every pending virtual interrupt (after a device interrupt), one domain after another. */
    void deliverVirtualInterrupts(Cpu cpu) {
        // Ids are handed out in order and never reused: none at or above nextId was ever a domain. Plain
        // reads: domains are created at set-up, before the threads that deliver start (Thread.start orders them).
        for (int i = 0, n = nextId; i < n; i++) {
            Domain d = domains[i];
            if (d != null && d.virqHandler() != null && (d.vcpu() == null || d.vcpu() == cpu) && !d.inHypervisor()
                && d.takeVirqPending()) {
                if (cpu.current() != context(cpu)) {
                    cpu.idleSwitch(context(cpu));
                }
                notify(cpu, d, "the hypervisor delivers a virtual interrupt to the guest kernel");
            }
        }
    }

    /**
     * Forgets {@code gpa} of {@code domain} in every CPU's TLB, and in the IOTLB when a device works
     * in the domain's p2m: the shoot-down after an unmap. The CPU of the calling thread flushes the
     * page itself; a CPU driven by another thread (threaded executor) is asked to flush
     * ({@link Cpu#requestTlbFlush}) and does so before its next translation.
     */
    public void flushTlbs(Domain domain, long gpa) {
        for (Cpu cpu : cpus) {
            if (cpu == null) {
                continue;
            }
            if (cpu.ownedByCurrentThread()) {
                cpu.tlb().flushPage(domain.space().asid(), gpa);
                cpu.chargeTlbFlush();
            } else {
                cpu.requestTlbFlush();
            }
        }
        if (domain.ownsDevice()) {
            // Synchronous in either invalidation mode: the frame may leave the domain right after.
            machine.iommu().invalidateNow(domain.space().asid(), gpa);
        }
    }

    private long dispatch(Cpu cpu, Domain d, int op, long a0, long a1, long a2, long a3) {
        switch (op) {
            case Hypercall.CONSOLE_IO:
                return consoleIo(cpu, d, a0, a1, a2);
            case Hypercall.MULTICALL:
                return multicall(cpu, d, a0, a1);
            case Hypercall.DM_OP:
                return dmOp(cpu, d, a0, a1);
            case Hypercall.IOMMU_OP:
                return iommuOps.hypercall(cpu, d, a0, a1, a2, a3);
            default:
                HypercallHandler handler = op >= 0 && op < MAX_HYPERCALL ? handlers[op] : null;
                return handler == null ? -Errno.ENOSYS : handler.call(cpu, d, a0, a1, a2, a3);
        }
    }

    /** A privileged device emulator raises its emulated device's interrupt in a guest. */
    private long dmOp(Cpu cpu, Domain caller, long cmd, long target) {
        if (!caller.privileged()) {
            return -Errno.EPERM;
        }
        if (cmd != Hypercall.DM_INJECT_IRQ) {
            return -Errno.EINVAL;
        }
        Domain d = target >= 0 && target < MAX_DOMAINS ? domains[(int) target] : null;
        if (d == null || d == caller) {
            return -Errno.ENOENT;
        }
        notify(cpu, d, "the hypervisor injects the emulated device's interrupt into the guest kernel");
        return 0;
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

    /**
     * Audits the hypervisor's own tables, as Xen audits its p2m and page accounting: for tests after a
     * hostile guest's turn, never on a data path (it walks every table). The frame allocator agrees
     * with itself; every domain's p2m sits in hypervisor frames and maps its RAM pages, read-write, to
     * frames the domain owns, its shared-info page, and in its mapping window only frames of another
     * domain (grant or foreign mappings) or of the hypervisor (event and request pages), nothing else;
     * each device given to a domain translates through that domain's p2m or the I/O table its owner
     * built, and that table reaches only the owner's frames, each counted.
     *
     * @return {@code null}, or the first inconsistency found
     */
    public String audit() {
        String problem = frames.audit();
        for (int i = 0; i < MAX_DOMAINS && problem == null; i++) {
            if (domains[i] != null) {
                problem = auditP2m(domains[i]);
            }
        }
        for (int dev = 0; dev < deviceOwners.length && problem == null; dev++) {
            Domain owner = deviceOwners[dev];
            if (owner != null && machine.iommu().tableRoot(dev) != iommuOps.tableRoot(dev, owner)) {
                problem = "device " + dev + " of " + owner + " translates through another table than its owner's";
            }
        }
        return problem == null ? iommuOps.audit(deviceOwners) : problem;
    }

    private String auditP2m(Domain d) {
        String[] problem = new String[1];
        int[] pages = new int[2];
        PageTable p2m = d.space().table();
        PageWalker.visit(memory, p2m.rootMa(), p2m.levels(), new PageWalker.Visitor() {
            @Override
            public void table(long mfn) {
                if (problem[0] == null && frames.owner(mfn) != DOMID_XEN) {
                    problem[0] = d + ": p2m table in frame " + mfn + " of owner " + frames.owner(mfn);
                }
            }

            @Override
            public void leaf(long gpa, long translation) {
                long ma = Translation.pageBase(translation);
                int owner = frames.owner(ma >>> MachineMemory.PAGE_SHIFT);
                String bad = null;
                if (Translation.pageShift(translation) != PageTable.SHIFT_4K) {
                    bad = "a superpage";
                } else if (gpa < d.memoryBytes()) {
                    pages[0]++;
                    bad = owner != d.id() || Translation.permissions(translation) != Translation.PERMISSIONS
                        ? "RAM page on a frame of owner " + owner + ", permissions " + Translation.permissions(translation) : null;
                } else if (gpa == d.sharedInfoGpa()) {
                    pages[1]++;
                    bad = ma != d.sharedInfoMa() ? "not the domain's shared-info frame" : null;
                } else if (!d.inWindow(gpa)) {
                    bad = "outside RAM, shared info and the mapping window";
                } else if (owner == d.id()
                    || owner != DOMID_XEN && owner != FrameAllocator.OWNER_QUARANTINE && domain(owner) == null) {
                    // A frame in quarantine is a destroyed granter's that this domain still maps (orphaned grant).
                    bad = "window page on a frame of owner " + owner;
                }
                if (bad != null && problem[0] == null) {
                    problem[0] = d + ": gpa 0x" + Long.toHexString(gpa) + " -> ma 0x" + Long.toHexString(ma) + ": " + bad;
                }
            }
        });
        if (problem[0] == null && (pages[0] != d.pages() || pages[1] != 1)) {
            problem[0] = d + ": " + pages[0] + " RAM pages and " + pages[1] + " shared-info pages mapped, " + d.pages() + " and 1 expected";
        }
        return problem[0];
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
