package org.hvbench.core.evtchn;

import org.hvbench.core.mem.MachineMemory;

/**
 * The hypervisor's word operations on a two-level shared-info page ({@link SharedInfo}), apart from
 * who is notified and how: {@link EventChannels} uses them and then kicks the vCPU, a test or a
 * benchmark on another thread uses them as they are.
 *
 * <p>A send sets the pending bit and then reads the mask; an unmask clears the mask bit and then
 * reads the pending bit. Both writes are compare-and-sets (full fences), so of a send and an unmask
 * that race at least one sees the other's write and raises the upcall: the event is never left
 * pending, unmasked and unannounced.
 */
public final class TwoLevelEvents {
    /** The port was pending already (a send), or nothing was pending (an unmask). */
    public static final int NONE = 0;
    /** The port is pending behind its mask. */
    public static final int MASKED = 1;
    /** Selector and upcall_pending set; upcall_pending was set already: an upcall is on its way. */
    public static final int RAISED = 2;
    /** Selector and upcall_pending set, and upcall_pending was clear: the caller must kick the vCPU. */
    public static final int KICK = 3;

    private TwoLevelEvents() {
    }

    /**
     * Sets {@code port} pending in the shared-info page at {@code base}.
     *
     * @return {@link #NONE} (coalesced), {@link #MASKED}, {@link #RAISED} or {@link #KICK}
     */
    public static int setPending(MachineMemory memory, long base, int port) {
        checkPort(port);
        long bit = SharedInfo.bit(port);
        if ((Atomics.getAndOr(memory, SharedInfo.pendingWord(base, port), bit) & bit) != 0) {
            return NONE;
        }
        if ((memory.getLongVolatile(SharedInfo.maskWord(base, port)) & bit) != 0) {
            return MASKED;
        }
        return raise(memory, base, port);
    }

    /**
     * Clears {@code port}'s mask and, if it is pending meanwhile, raises the upcall it missed.
     *
     * @return {@link #NONE} (nothing pending), {@link #RAISED} or {@link #KICK}
     */
    public static int unmask(MachineMemory memory, long base, int port) {
        checkPort(port);
        long bit = SharedInfo.bit(port);
        Atomics.getAndClear(memory, SharedInfo.maskWord(base, port), bit);
        if ((memory.getLongVolatile(SharedInfo.pendingWord(base, port)) & bit) != 0) {
            return raise(memory, base, port);
        }
        return NONE;
    }

    /** Masks {@code port} (the kernel does this itself: one atomic OR). */
    public static void mask(MachineMemory memory, long base, int port) {
        checkPort(port);
        Atomics.getAndOr(memory, SharedInfo.maskWord(base, port), SharedInfo.bit(port));
    }

    private static int raise(MachineMemory memory, long base, int port) {
        Atomics.getAndOr(memory, base + SharedInfo.PENDING_SEL, 1L << (port >>> 6));
        return Atomics.getAndSetInt(memory, base + SharedInfo.UPCALL_PENDING, 1) == 0 ? KICK : RAISED;
    }

    private static void checkPort(int port) {
        if (port < 0 || port >= SharedInfo.PORTS) {
            throw new IllegalArgumentException("two-level event port must be 0.." + (SharedInfo.PORTS - 1) + "; got " + port);
        }
    }
}
