package org.hvbench.core.guest;

import org.hvbench.core.cpu.Cpu;

/**
 * A kernel's block driver: takes block requests of up to 11 page-bounded segments, hands a batch
 * over with one {@link #kick} (a doorbell, a hypercall, a notification), and reports completions to
 * the kernel from its interrupt handler.
 */
public interface BlockDriver {
    /** Requests that can be queued now. */
    int freeSlots();

    /**
     * Queues one request; nothing is handed over before {@link #kick}. The caller has checked
     * {@link #freeSlots}.
     *
     * @param segmentBus bus addresses ({@link OsMemory#busAddress}) of page-bounded, 512-byte aligned
     *     segments; segments {@code first .. first+count-1} make this request
     * @return 0, or a negative errno (nothing was queued)
     */
    int queue(Cpu cpu, int op, long sector, int tag, long[] segmentBus, int[] segmentLength, int first, int count);

    /** Hands every queued request over; 0 or a negative errno (the kernel then fails them). */
    int kick(Cpu cpu);

    /** The interrupt handler body: reads completions and passes them to the kernel. */
    void onInterrupt(Cpu cpu);
}
