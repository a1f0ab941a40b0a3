package org.hvbench.core.evtchn;

import static org.hvbench.core.evtchn.FifoLayout.BUSY;
import static org.hvbench.core.evtchn.FifoLayout.LINKED;
import static org.hvbench.core.evtchn.FifoLayout.LINK_MASK;
import static org.hvbench.core.evtchn.FifoLayout.MASKED;
import static org.hvbench.core.evtchn.FifoLayout.PENDING;

import java.util.Arrays;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * The hypervisor's side of one vCPU's FIFO event queues ({@link FifoLayout}): it sets ports
 * pending and links them at the tail of their priority's queue; the guest's kernel takes them from
 * the head ({@link FifoDispatcher}). Callable from any thread; it needs only machine memory, so the
 * protocol can be tested without a hypervisor.
 *
 * <p>The protocol. A port is claimed for a queue by one compare-and-set that sets PENDING together
 * with LINKED|BUSY, only when it was neither masked nor linked: of a send and an unmask that race,
 * exactly one claims it. The claimant then takes this object's lock (hypervisor-private, so a guest
 * cannot hold it) and, with BUSY cleared first, appends the port: a compare-and-set writes LINK into
 * the tail's word, only while the tail is still LINKED and not BUSY (the guest clears LINKED when it
 * takes a port); when the tail was taken, the queue is empty and the port becomes HEAD (release),
 * then READY's bit is set (full fence). A BUSY tail was claimed again but is not on the queue yet;
 * it counts as taken. The caller notifies the vCPU only when READY went from zero to non-zero: a
 * kernel drains READY to zero before it leaves its upcall, so any other set bit has an upcall coming.
 *
 * <p>The tails, the queue each port was last linked on and the priorities are private; the guest
 * can only rewrite its own words, and the hypervisor never follows a LINK, so a guest that corrupts
 * them loses its own events and nothing else. Counters are plain fields: statistics, exact when one
 * thread sends.
 *
 * <p>Why a lock, as Xen's per-queue lock: appenders on two CPUs that swapped the tail with an atomic
 * exchange instead would race with the kernel: a predecessor taken and claimed again between one
 * appender's exchange and its link is LINKED again, so the late link lands and closes a cycle (the ABA
 * of this protocol). Under the lock a re-claimed port stays BUSY until its own append, which makes
 * the late link fail. The lock-free way is a per-vCPU inbox that the vCPU's own CPU links from, one
 * appender; the two-level layout, the default, takes no lock.
 */
public final class FifoQueues {
    /** Result of {@link #setPending} and {@link #unmask}: the port started a queue; notify the vCPU. */
    public static final int NOTIFY = 1;

    private final MachineMemory memory;
    private final long controlMa;
    private final long arrayMa;
    private final int ports;
    private final int[] tail = new int[FifoLayout.PRIORITIES];
    private final byte[] linkedOn;
    private final byte[] priority;
    private final Object lock = new Object();

    private long linked;
    private long coalesced;
    private long masked;
    private long notifies;
    private long gaveUp;

    /**
     * @param controlMa machine address of the control block ({@link FifoLayout#CONTROL_BYTES})
     * @param arrayMa machine address of the event array, {@code ports} words
     * @param ports ports 1..ports-1 can be set pending; port 0 ends a queue
     * @throws IllegalArgumentException for a size or an address outside machine memory (a host bug)
     */
    public FifoQueues(MachineMemory memory, long controlMa, long arrayMa, int ports) {
        if (ports < 2 || ports > FifoLayout.MAX_PORTS) {
            throw new IllegalArgumentException("FIFO ports must be 2.." + FifoLayout.MAX_PORTS + "; got " + ports);
        }
        if ((controlMa & 7) != 0 || (arrayMa & 7) != 0 || !memory.contains(controlMa, FifoLayout.CONTROL_BYTES)
            || !memory.contains(arrayMa, 4L * ports)) {
            throw new IllegalArgumentException("FIFO control block 0x" + Long.toHexString(controlMa) + " or event array 0x"
                + Long.toHexString(arrayMa) + " is misaligned or outside machine memory");
        }
        this.memory = memory;
        this.controlMa = controlMa;
        this.arrayMa = arrayMa;
        this.ports = ports;
        this.linkedOn = new byte[ports];
        this.priority = new byte[ports];
        Arrays.fill(priority, (byte) FifoLayout.DEFAULT_PRIORITY);
    }

    /**
     * Sets {@code port} pending: coalesces when it already was, waits when it is masked, otherwise
     * links it at the tail of its queue.
     *
     * @return {@link #NOTIFY} when the caller must notify the vCPU, 0 when not, {@code -EINVAL} for a
     *     port outside the array, {@code -EAGAIN} when the guest kept rewriting the word and the
     *     operation gave up (counted in {@link #gaveUp})
     */
    public int setPending(int port) {
        if (port <= 0 || port >= ports) {
            return -Errno.EINVAL;
        }
        long ma = FifoLayout.word(arrayMa, port);
        for (int i = 0; i < Atomics.TRIES; i++) {
            int w = memory.getIntVolatile(ma);
            if ((w & PENDING) != 0) {
                // Pending already: it is queued, or held by the mask, or being taken (the kernel
                // clears PENDING before it runs the handler): one run covers both.
                coalesced++;
                return 0;
            }
            boolean claim = (w & (MASKED | LINKED | BUSY)) == 0;
            int update = claim ? (w | PENDING | LINKED | BUSY) & ~LINK_MASK : w | PENDING;
            if (memory.compareAndSetInt(ma, w, update)) {
                if (claim) {
                    return link(port);
                }
                if ((w & MASKED) != 0) {
                    masked++;
                } else {
                    coalesced++;
                }
                return 0;
            }
        }
        gaveUp++;
        return -Errno.EAGAIN;
    }

    /**
     * Clears {@code port}'s mask and links it when an event waited behind the mask (the unmask
     * hypercall; a kernel clears the mask itself when nothing is pending).
     *
     * @return {@link #NOTIFY}, 0, {@code -EINVAL} or {@code -EAGAIN}, as for {@link #setPending}
     */
    public int unmask(int port) {
        if (port <= 0 || port >= ports) {
            return -Errno.EINVAL;
        }
        long ma = FifoLayout.word(arrayMa, port);
        for (int i = 0; i < Atomics.TRIES; i++) {
            int w = memory.getIntVolatile(ma);
            boolean claim = (w & (PENDING | LINKED | BUSY)) == PENDING;
            if ((w & MASKED) == 0 && !claim) {
                return 0;
            }
            int update = claim ? (w | LINKED | BUSY) & ~(MASKED | LINK_MASK) : w & ~MASKED;
            if (memory.compareAndSetInt(ma, w, update)) {
                return claim ? link(port) : 0;
            }
        }
        gaveUp++;
        return -Errno.EAGAIN;
    }

    /** Appends a port this thread claimed (LINKED|BUSY set by its compare-and-set) to its queue. */
    private int link(int port) {
        synchronized (lock) {
            // BUSY goes before the port can be reached: the kernel never takes a BUSY port, and while
            // we hold the lock no other linker can see the port between here and the append.
            clearBusy(port);
            int q = priority[port];
            int t = tail[q];
            boolean appended = false;
            if (t != 0 && t != port && linkedOn[t] == q) {
                long tailMa = FifoLayout.word(arrayMa, t);
                for (int i = 0; i < Atomics.TRIES; i++) {
                    int w = memory.getIntVolatile(tailMa);
                    if ((w & (LINKED | BUSY)) != LINKED) {
                        break; // taken by the kernel (or claimed again): the queue is empty
                    }
                    if (memory.compareAndSetInt(tailMa, w, (w & ~LINK_MASK) | port)) {
                        appended = true;
                        break;
                    }
                    if (i == Atomics.TRIES - 1) {
                        gaveUp++; // start a new chain: the guest's old one may be cut, its loss
                    }
                }
            }
            linkedOn[port] = (byte) q;
            tail[q] = port;
            linked++;
            if (appended) {
                return 0;
            }
            memory.putIntRelease(FifoLayout.head(controlMa, q), port);
            int before = FifoLayout.getAndOrInt(memory, controlMa + FifoLayout.READY, 1 << q);
            if (before == 0) {
                notifies++;
                return NOTIFY;
            }
            return 0;
        }
    }

    private void clearBusy(int port) {
        long ma = FifoLayout.word(arrayMa, port);
        for (int i = 0; i < Atomics.TRIES; i++) {
            int w = memory.getIntVolatile(ma);
            if ((w & BUSY) == 0 || memory.compareAndSetInt(ma, w, w & ~BUSY)) {
                return;
            }
        }
        gaveUp++; // the port stays BUSY and the kernel will not take it: the guest's own loss
    }

    /**
     * Sets the queue {@code port} joins from its next link on (Xen's set_priority).
     *
     * @return 0, or {@code -EINVAL} for a port or priority out of range
     */
    public int setPriority(int port, int newPriority) {
        if (port <= 0 || port >= ports || newPriority < 0 || newPriority >= FifoLayout.PRIORITIES) {
            return -Errno.EINVAL;
        }
        synchronized (lock) {
            priority[port] = (byte) newPriority;
        }
        return 0;
    }

    public int priority(int port) {
        return priority[port];
    }

    public int ports() {
        return ports;
    }

    public long controlMa() {
        return controlMa;
    }

    public long arrayMa() {
        return arrayMa;
    }

    /** The event word of {@code port} (volatile read), for tests and tracing. */
    public int word(int port) {
        return memory.getIntVolatile(FifoLayout.word(arrayMa, port));
    }

    /** Ports linked onto a queue. */
    public long linked() {
        return linked;
    }

    /** Events whose port was already pending (or already linked). */
    public long coalesced() {
        return coalesced;
    }

    /** Events that wait behind a mask. */
    public long masked() {
        return masked;
    }

    /** Links that started an empty READY word: the notifications asked of the caller. */
    public long notifies() {
        return notifies;
    }

    /** Operations that gave up because the guest kept rewriting a word. */
    public long gaveUp() {
        return gaveUp;
    }
}
