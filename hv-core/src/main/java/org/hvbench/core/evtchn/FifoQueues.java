package org.hvbench.core.evtchn;

import static org.hvbench.core.evtchn.FifoLayout.BUSY;
import static org.hvbench.core.evtchn.FifoLayout.LINKED;
import static org.hvbench.core.evtchn.FifoLayout.LINK_MASK;
import static org.hvbench.core.evtchn.FifoLayout.MASKED;
import static org.hvbench.core.evtchn.FifoLayout.PENDING;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * The hypervisor's side of one vCPU's FIFO event queues ({@link FifoLayout}): senders on any thread
 * set ports pending; the thread of the vCPU's own CPU links them at the tail of their priority's
 * queue ({@link #drain}); the guest's kernel takes them from the head ({@link FifoDispatcher}). It
 * needs only machine memory, so the protocol can be tested without a hypervisor.
 *
 * <p>Sending. A port is claimed for a queue by one compare-and-set that sets PENDING together with
 * LINKED|BUSY, only when it was neither masked nor linked: of a send and an unmask that race,
 * exactly one claims it. The claimant puts the port's bit in the inbox, a hypervisor-private bitmap
 * of ports to link with a summary word of one bit per group of bitmap words, and returns
 * {@link #NOTIFY} when the summary was empty: the caller notifies the vCPU, whose CPU drains. A
 * summary that was not empty has a drain coming: its first bit since the last drain notified. So a
 * claimed port is linked exactly once, by the first drain after its claim that a notification
 * brings; it stays LINKED, and so unclaimable, until the kernel takes it off its queue.
 *
 * <p>Linking. Only the vCPU's CPU drains, before it enters the kernel's upcall (the hypervisor's
 * {@code PendingEvents}), so there is one appender and no lock. It takes the summary, then each
 * word, with an exchange, and links each port in port order: BUSY cleared first, then a
 * compare-and-set writes LINK into the tail's word, only while the tail is still LINKED and not
 * BUSY (the guest clears LINKED when it takes a port); when the tail was taken, the queue is empty
 * and the port becomes HEAD (release), then READY's bit is set (full fence). A BUSY tail was claimed
 * again and waits in the inbox for this same thread; it counts as taken, so a late link cannot land
 * on it (the ABA that appenders on two CPUs swapping the tail had, which the lock before this
 * inbox prevented). READY going from zero to non-zero asks for the upcall that follows the drain: a
 * kernel drains READY to zero before it leaves its upcall, so any other set bit has one coming.
 *
 * <p>Order. Xen orders a queue by arrival under its per-queue lock; here ports linked by one drain
 * go in port order. Only ports sent concurrently (before the same drain) can be reordered, and no
 * guest can tell that from arrival, as nothing ordered them.
 *
 * <p>The inbox, the tails, the queue each port was last linked on and the priorities are private;
 * the guest can only rewrite its own words, and the hypervisor never follows a LINK, so a guest
 * that corrupts them loses its own events and nothing else. Counters are plain fields, statistics:
 * {@link #linked()} is exact (one thread links), the senders' counters when one thread sends.
 */
public final class FifoQueues {
    /** Result of {@link #setPending} and {@link #unmask}: the inbox was empty; notify the vCPU. */
    public static final int NOTIFY = 1;

    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle SUMMARY;

    static {
        try {
            SUMMARY = MethodHandles.lookup().findVarHandle(FifoQueues.class, "summary", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final MachineMemory memory;
    private final long controlMa;
    private final long arrayMa;
    private final int ports;
    /** Bit p % 64 of word p / 64: port p is claimed and waits for the drain to link it. */
    private final long[] inbox;
    /** Bit g of the summary covers inbox words from g << groupShift (a word a bit up to 4096 ports). */
    private final int groupShift;
    @SuppressWarnings("unused") // accessed through SUMMARY
    private volatile long summary;
    private final int[] tail = new int[FifoLayout.PRIORITIES];
    private final byte[] linkedOn;
    private final byte[] priority;

    private long linked;
    private long coalesced;
    private long masked;
    private long notifies;
    private long gaveUp;
    private long linkGaveUp;

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
        int words = (ports + 63) >>> 6;
        this.inbox = new long[words];
        this.groupShift = Math.max(0, 32 - Integer.numberOfLeadingZeros(words - 1) - 6);
        this.linkedOn = new byte[ports];
        this.priority = new byte[ports];
        Arrays.fill(priority, (byte) FifoLayout.DEFAULT_PRIORITY);
    }

    /**
     * Sets {@code port} pending: coalesces when it already was, waits when it is masked, otherwise
     * claims it and leaves it in the inbox for the drain to link. Callable from any thread.
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
                    return post(port);
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
     * Clears {@code port}'s mask and claims it for the inbox when an event waited behind the mask
     * (the unmask hypercall; a kernel clears the mask itself when nothing is pending).
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
                return claim ? post(port) : 0;
            }
        }
        gaveUp++;
        return -Errno.EAGAIN;
    }

    /** Leaves a port this thread claimed (LINKED|BUSY set by its compare-and-set) in the inbox. */
    private int post(int port) {
        int w = port >>> 6;
        // Full fence (an atomic OR): the bit is in the inbox before the summary is looked at, so a
        // drain that takes the summary after this finds it.
        WORDS.getAndBitwiseOr(inbox, w, 1L << port);
        long group = 1L << (w >>> groupShift);
        // A read first: a group bit set since the last drain means that drain is still to come. The
        // OR (full fence) only when the bit is clear; an empty summary is ours to announce.
        if (((long) SUMMARY.getVolatile(this) & group) != 0 || (long) SUMMARY.getAndBitwiseOr(this, group) != 0) {
            return 0;
        }
        notifies++;
        return NOTIFY;
    }

    /**
     * Links every port in the inbox at the tail of its queue. Only the thread of the vCPU's own CPU
     * calls it (never two threads at once), before the kernel's upcall reads READY and HEAD.
     *
     * @return {@link #NOTIFY} when a link set READY from zero (an upcall is needed), else 0
     */
    public int drain() {
        // A read first: an empty inbox costs no fence. The exchange (full fence) takes the groups;
        // a sender that sets a group bit after it announces a new drain.
        if ((long) SUMMARY.getVolatile(this) == 0) {
            return 0;
        }
        long groups = (long) SUMMARY.getAndSet(this, 0L);
        int result = 0;
        while (groups != 0) {
            int first = Long.numberOfTrailingZeros(groups) << groupShift;
            groups &= groups - 1;
            int end = Math.min(inbox.length, first + (1 << groupShift));
            for (int w = first; w < end; w++) {
                // Exchange (full fence, acquire of the senders' ORs), after a read that skips empty words.
                long bits = (long) WORDS.getVolatile(inbox, w) == 0 ? 0 : (long) WORDS.getAndSet(inbox, w, 0L);
                while (bits != 0) {
                    result |= link((w << 6) + Long.numberOfTrailingZeros(bits));
                    bits &= bits - 1;
                }
            }
        }
        return result;
    }

    /** Appends a port taken from the inbox to its queue (the draining thread only). */
    private int link(int port) {
        // BUSY goes before the port can be reached: the kernel never takes a BUSY port, and as this
        // thread alone links, nothing links behind the port before its own append below.
        clearBusy(port);
        int q = priority[port];
        int t = tail[q];
        boolean appended = false;
        if (t != 0 && t != port && linkedOn[t] == q) {
            long tailMa = FifoLayout.word(arrayMa, t);
            for (int i = 0; i < Atomics.TRIES; i++) {
                int w = memory.getIntVolatile(tailMa);
                if ((w & (LINKED | BUSY)) != LINKED) {
                    break; // taken by the kernel (or claimed again, in the inbox): the queue is empty
                }
                if (memory.compareAndSetInt(tailMa, w, (w & ~LINK_MASK) | port)) {
                    appended = true;
                    break;
                }
                if (i == Atomics.TRIES - 1) {
                    linkGaveUp++; // start a new chain: the guest's old one may be cut, its loss
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
        // Full fence (compare-and-set): HEAD is written before the kernel can see the READY bit.
        return FifoLayout.getAndOrInt(memory, controlMa + FifoLayout.READY, 1 << q) == 0 ? NOTIFY : 0;
    }

    private void clearBusy(int port) {
        long ma = FifoLayout.word(arrayMa, port);
        for (int i = 0; i < Atomics.TRIES; i++) {
            int w = memory.getIntVolatile(ma);
            if ((w & BUSY) == 0 || memory.compareAndSetInt(ma, w, w & ~BUSY)) {
                return;
            }
        }
        linkGaveUp++; // the port stays BUSY and the kernel will not take it: the guest's own loss
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
        // Plain: the drain reads it once per link. The kernel sets it on its own CPU, the draining
        // thread; from elsewhere, a link in flight uses the old priority or the new.
        priority[port] = (byte) newPriority;
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

    /** Ports linked onto a queue (by drains). */
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

    /** Sends and unmasks that found the inbox empty: the notifications asked of the caller. */
    public long notifies() {
        return notifies;
    }

    /** Operations that gave up because the guest kept rewriting a word (sends, unmasks and links). */
    public long gaveUp() {
        return gaveUp + linkGaveUp;
    }
}
