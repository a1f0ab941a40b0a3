package org.hvbench.core.evtchn;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/**
 * FIFO event channels (after Xen's FIFO ABI), beside the two-level layout: a domain that has asked
 * for them ({@code EVTCHN_INIT_CONTROL}) gets its events on priority queues of event words
 * ({@link FifoLayout}, {@link FifoQueues}) instead of in the shared-info bitmaps. Ports, binding and
 * sends stay with {@link EventChannels}, which hands this class the delivery and the unmask of such
 * a domain.
 *
 * <pre>
 * a0 = EVTCHN_INIT_CONTROL: a1 = gpa of two free pages of the caller's mapping window -> 0
 *                           (control block at a1, event array of 1024 ports at a1 + 4096)
 * a0 = EVTCHN_SET_PRIORITY: a1 = local port, a2 = priority 0 (highest) .. 15        -> 0
 * </pre>
 *
 * Unlike Xen, where the guest gives its own pages, the hypervisor allocates the two frames (as it
 * does the shared-info page) and maps them where the guest asks: the words it writes then never
 * live in a frame the guest could give away, so no guest can point its events at another domain.
 */
public final class FifoEvents {
    private final Hypervisor hv;
    private final MachineMemory memory;
    private final FifoQueues[] queues = new FifoQueues[Hypervisor.MAX_DOMAINS];
    /** The two frames of each domain's control block and event array, freed when it is destroyed. */
    private final long[] controlFrame = new long[Hypervisor.MAX_DOMAINS];
    private final long[] arrayFrame = new long[Hypervisor.MAX_DOMAINS];

    /** Takes over delivery and unmask for every domain that sets up FIFO control in {@code channels}. */
    public FifoEvents(Hypervisor hv, EventChannels channels) {
        this.hv = hv;
        this.memory = hv.machine().memory();
        channels.useFifo(this);
    }

    /**
     * {@code EVTCHN_INIT_CONTROL}: switches {@code caller} to FIFO events, with the control block and
     * the event array mapped read-write at {@code gpa} and {@code gpa + 4096}.
     *
     * @return 0; {@code -EINVAL} for an address that is misaligned or not two pages of the window,
     *     {@code -EEXIST} when FIFO control is set up already or a page is mapped, {@code -ENOMEM}
     */
    public long initControl(Domain caller, long gpa) {
        if (queues[caller.id()] != null) {
            return -Errno.EEXIST;
        }
        long next = gpa + MachineMemory.PAGE_SIZE;
        if ((gpa & MachineMemory.PAGE_MASK) != 0 || !caller.inWindow(gpa) || !caller.inWindow(next)) {
            return -Errno.EINVAL;
        }
        PageTable p2m = caller.space().table();
        if (p2m.translate(gpa) >= 0 || p2m.translate(next) >= 0) {
            return -Errno.EEXIST;
        }
        FrameAllocator frames = hv.machine().frames();
        long control = frames.allocate(FrameAllocator.OWNER_HYPERVISOR);
        long array = control < 0 ? control : frames.allocate(FrameAllocator.OWNER_HYPERVISOR);
        if (array < 0) {
            if (control >= 0) {
                frames.free(control, FrameAllocator.OWNER_HYPERVISOR);
            }
            return -Errno.ENOMEM;
        }
        long controlMa = control << MachineMemory.PAGE_SHIFT;
        long arrayMa = array << MachineMemory.PAGE_SHIFT;
        int r = p2m.map(gpa, controlMa, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
        if (r >= 0) {
            r = p2m.map(next, arrayMa, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
            if (r < 0) {
                p2m.unmap(gpa);
                hv.flushTlbs(caller, gpa);
            }
        }
        if (r < 0) {
            frames.free(control, FrameAllocator.OWNER_HYPERVISOR);
            frames.free(array, FrameAllocator.OWNER_HYPERVISOR);
            return r;
        }
        FifoQueues q = new FifoQueues(memory, controlMa, arrayMa, FifoLayout.PORTS_PER_PAGE);
        queues[caller.id()] = q;
        controlFrame[caller.id()] = control;
        arrayFrame[caller.id()] = array;
        // The hypervisor drains the inbox on the domain's own CPU before each upcall there.
        caller.setPendingEvents(q::drain);
        return 0;
    }

    /** {@code dying} is being destroyed: its two frames are scrubbed and freed (its p2m goes with it). */
    void release(Domain dying) {
        int id = dying.id();
        if (queues[id] == null) {
            return;
        }
        queues[id] = null;
        FrameAllocator frames = hv.machine().frames();
        for (long mfn : new long[] {controlFrame[id], arrayFrame[id]}) {
            memory.zeroFrame(mfn);
            frames.free(mfn, FrameAllocator.OWNER_HYPERVISOR);
        }
    }

    /** True when {@code d} takes its events through FIFO queues. */
    public boolean enabled(Domain d) {
        return queues[d.id()] != null;
    }

    /** {@code d}'s queues, or {@code null} before its {@code EVTCHN_INIT_CONTROL}. */
    public FifoQueues queues(Domain d) {
        return queues[d.id()];
    }

    /**
     * Sets {@code port} pending in {@code target}'s event array and notifies its vCPU when the port
     * was the first in the inbox: the vCPU's CPU links it ({@link FifoQueues#drain}) before the upcall.
     *
     * @return as {@link FifoQueues#setPending}; {@code -ENOENT} when {@code target} has no FIFO control
     */
    public int deliver(Cpu cpu, Domain target, int port, String what) {
        FifoQueues q = queues[target.id()];
        if (q == null) {
            return -Errno.ENOENT;
        }
        int r = q.setPending(port);
        if (r == FifoQueues.NOTIFY) {
            hv.notify(cpu, target, what);
        }
        return r;
    }

    /** {@code EVTCHN_UNMASK} for a FIFO domain: clears the mask and queues a waiting event. */
    public long unmask(Cpu cpu, Domain caller, long port) {
        FifoQueues q = queues[caller.id()];
        if (q == null) {
            return -Errno.ENOENT;
        }
        if (port <= 0 || port >= q.ports()) {
            return -Errno.EINVAL;
        }
        int r = q.unmask((int) port);
        if (r == FifoQueues.NOTIFY) {
            hv.notify(cpu, caller, "an event that waited behind a mask");
            return 0;
        }
        return r;
    }

    /** {@code EVTCHN_SET_PRIORITY}. */
    public long setPriority(Domain caller, long port, long priority) {
        FifoQueues q = queues[caller.id()];
        if (q == null) {
            return -Errno.ENOENT;
        }
        if (port <= 0 || port >= q.ports() || priority < 0 || priority >= FifoLayout.PRIORITIES) {
            return -Errno.EINVAL;
        }
        return q.setPriority((int) port, (int) priority);
    }
}
