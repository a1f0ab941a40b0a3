package org.hvbench.core.iommu;

import java.util.concurrent.atomic.AtomicLong;

import org.jctools.queues.MpmcArrayQueue;
import org.jctools.queues.MpscArrayQueue;

/**
 * The IOMMU's fault log: every refused DMA is recorded as (device, IOVA, access). Devices on any
 * thread record; one reader drains. Bounded and lock-free: records are preallocated and move
 * between a free list (JCTools MPMC queue) and the log (JCTools MPSC queue), so recording allocates
 * nothing and never waits; when every record is in use the fault is counted as overflow and dropped,
 * and the log keeps working once the reader drains it.
 */
public final class FaultLog {
    /** What a drain hands out, one fault at a time. */
    @FunctionalInterface
    public interface Reader {
        void onFault(int device, long iova, int access);
    }

    private static final class Fault {
        int device;
        long iova;
        int access;
    }

    private final MpmcArrayQueue<Fault> free;
    private final MpscArrayQueue<Fault> log;
    private final AtomicLong recorded = new AtomicLong();
    private final AtomicLong overflowed = new AtomicLong();

    /** @param capacity faults held at once (a power of two is used as is; others are rounded up) */
    public FaultLog(int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("fault log capacity must be at least 2; got " + capacity);
        }
        free = new MpmcArrayQueue<>(capacity);
        log = new MpscArrayQueue<>(capacity);
        for (int i = 0; i < capacity; i++) {
            free.offer(new Fault());
        }
    }

    /** Records a fault; callable from any thread; never blocks. */
    public void record(int device, long iova, int access) {
        Fault f = free.poll();
        if (f == null) {
            overflowed.incrementAndGet();
            return;
        }
        f.device = device;
        f.iova = iova;
        f.access = access;
        // The log holds at most as many records as exist, so the offer cannot fail.
        log.offer(f);
        recorded.incrementAndGet();
    }

    /** Hands every logged fault to {@code reader} (one reader thread); returns how many. */
    public int drain(Reader reader) {
        int n = 0;
        Fault f;
        while ((f = log.poll()) != null) {
            reader.onFault(f.device, f.iova, f.access);
            free.offer(f);
            n++;
        }
        return n;
    }

    /** Faults logged so far (drained or not). */
    public long recorded() {
        return recorded.get();
    }

    /** Faults dropped because the log was full. */
    public long overflowed() {
        return overflowed.get();
    }
}
