package org.hvbench.core.hv;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * A domain: id, name, label, privilege, its guest-physical memory (a p2m page table in hypervisor
 * frames mapping guest frames {@code 0..pages-1} to machine frames the domain owns), and the two
 * contexts its one vCPU runs in, {@code <name>-kernel} and {@code <name>-app}.
 *
 * <pre>
 * Guest-physical layout:
 * | guest frames                  | what                                                        |
 * |-------------------------------|-------------------------------------------------------------|
 * | 0 .. pages-1                  | RAM: machine frames the domain owns                         |
 * | pages                         | the shared-info page (a hypervisor frame): event bitmaps     |
 * | pages+1 .. pages+WINDOW_PAGES | the mapping window: foreign frames mapped by grant or, for a |
 * |                               | privileged domain, by frame number; empty until mapped       |
 * </pre>
 */
public final class Domain {
    private static final VarHandle VIRQ_PENDING;

    static {
        try {
            VIRQ_PENDING = MethodHandles.lookup().findVarHandle(Domain.class, "virqPending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Pages of the mapping window for grant and foreign mappings (256 MiB). */
    public static final int WINDOW_PAGES = 1 << 16;

    private final int id;
    private final String name;
    private final String label;
    private final boolean privileged;
    private final AddressSpace space;
    private final int pages;
    private final Context kernel;
    private final Context app;
    private final long sharedInfoMa;
    private VirtualInterruptHandler virqHandler;
    private MmioHandler mmioHandler;
    private ChannelHandler channelHandler;
    private PendingEvents pendingEvents;
    /** Set by any CPU (volatile), taken by the domain's own vCPU (exchange). */
    @SuppressWarnings("unused") // accessed through VIRQ_PENDING
    private volatile int virqPending;
    private Cpu vcpu;
    private boolean inHypervisor;
    private boolean ownsDevice;
    /** Set once by {@link Hypervisor#destroyDomain}, on the toolstack's thread while the domain is paused. */
    private boolean destroyed;

    Domain(int id, String name, String label, boolean privileged, AddressSpace space, int pages, long sharedInfoMa) {
        this.id = id;
        this.name = name;
        this.label = label;
        this.privileged = privileged;
        this.space = space;
        this.pages = pages;
        this.sharedInfoMa = sharedInfoMa;
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

    /** Guest-physical address of the shared-info page. */
    public long sharedInfoGpa() {
        return (long) pages << MachineMemory.PAGE_SHIFT;
    }

    /** Machine address of the shared-info page (a frame the hypervisor owns). */
    public long sharedInfoMa() {
        return sharedInfoMa;
    }

    /** First guest-physical address of the mapping window. */
    public long windowStart() {
        return (long) (pages + 1) << MachineMemory.PAGE_SHIFT;
    }

    /** True when {@code gpa} is a page of the mapping window. */
    public boolean inWindow(long gpa) {
        return gpa >= windowStart() && gpa < windowStart() + ((long) WINDOW_PAGES << MachineMemory.PAGE_SHIFT);
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

    /** Who handles this domain's trapped device-register writes (set-up). */
    public void setMmioHandler(MmioHandler handler) {
        this.mmioHandler = handler;
    }

    MmioHandler mmioHandler() {
        return mmioHandler;
    }

    /** Who handles this domain's trapped start-I/O of a channel program (set-up). */
    public void setChannelHandler(ChannelHandler handler) {
        this.channelHandler = handler;
    }

    ChannelHandler channelHandler() {
        return channelHandler;
    }

    /**
     * What the hypervisor does on this domain's own CPU before each upcall and each notification there
     * (set-up, when the domain switches to FIFO events).
     */
    public void setPendingEvents(PendingEvents events) {
        this.pendingEvents = events;
    }

    /** Does the work senders left for this domain's vCPU; the caller runs on that vCPU's CPU. */
    void drainPendingEvents() {
        PendingEvents e = pendingEvents;
        if (e != null) {
            e.drain();
        }
    }

    /** A virtual interrupt waits for the next entry into this domain. */
    public void markVirqPending() {
        VIRQ_PENDING.setVolatile(this, 1);
    }

    /**
     * The CPU this domain's vCPU runs on, or {@code null} when it runs on whichever CPU is current
     * (the uniprocessor of the inline executor). Set with {@link Hypervisor#runOn}. On a machine
     * whose CPUs are driven by threads of their own, every domain that takes virtual interrupts
     * needs one: without it, its upcalls run on whichever CPU's thread delivers, two at once.
     */
    public Cpu vcpu() {
        return vcpu;
    }

    void setVcpu(Cpu cpu) {
        this.vcpu = cpu;
    }

    /** True when a device's IOMMU context is this domain's p2m. */
    public boolean ownsDevice() {
        return ownsDevice;
    }

    void setOwnsDevice() {
        ownsDevice = true;
    }

    /** True while this domain's vCPU is suspended in the hypervisor or running a handler it was entered for. */
    boolean inHypervisor() {
        return inHypervisor;
    }

    boolean setInHypervisor(boolean value) {
        boolean was = inHypervisor;
        inHypervisor = value;
        return was;
    }

    /** True while a virtual interrupt waits for this domain (acquire). */
    public boolean virqPending() {
        return (int) VIRQ_PENDING.getAcquire(this) != 0;
    }

    /** True once {@link Hypervisor#destroyDomain} has run: nothing may be delivered to it or read from it. */
    public boolean destroyed() {
        return destroyed;
    }

    /** It stops running: no handler is entered from now on. */
    void markDestroyed() {
        destroyed = true;
        virqHandler = null;
        mmioHandler = null;
        channelHandler = null;
        ownsDevice = false;
    }

    boolean takeVirqPending() {
        return (int) VIRQ_PENDING.getAcquire(this) != 0 && (int) VIRQ_PENDING.getAndSet(this, 0) != 0;
    }

    @Override
    public String toString() {
        return name + "(dom" + id + ")";
    }
}
