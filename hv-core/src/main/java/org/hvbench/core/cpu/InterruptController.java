package org.hvbench.core.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A CPU's interrupt controller: 64 vectors, a pending word, and a handler per vector. A device on any
 * thread raises a vector (atomic OR into the pending word); the CPU that owns the controller takes
 * all pending vectors at once (atomic exchange with zero) and runs their handlers. Raising a vector
 * that is already pending coalesces, as a level-triggered line does.
 *
 * <p>The wake-up hook runs only when the pending word goes from empty to non-empty, so a sleeping
 * CPU thread is kicked once, not once per vector. It is empty in the inline executor.
 */
public final class InterruptController {
    public static final int VECTORS = 64;
    private static final VarHandle PENDING;

    static {
        try {
            PENDING = MethodHandles.lookup().findVarHandle(InterruptController.class, "pending", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final InterruptHandler[] handlers = new InterruptHandler[VECTORS];
    @SuppressWarnings("unused") // accessed through PENDING
    private volatile long pending;
    private volatile Runnable wakeup;
    private long delivered;
    private long spurious;

    /** Installs the handler of a vector (set-up time, before any device runs). */
    public void register(int vector, InterruptHandler handler) {
        checkVector(vector);
        if (handlers[vector] != null) {
            throw new IllegalStateException("interrupt vector " + vector + " already has a handler");
        }
        handlers[vector] = handler;
    }

    /**
     * Removes the handler of a vector (its domain was destroyed; set-up time, while the CPU is not
     * delivering). A vector raised afterwards counts as spurious until a handler is registered again.
     */
    public void unregister(int vector) {
        checkVector(vector);
        handlers[vector] = null;
    }

    /** The hook run when the first vector becomes pending; {@code null} for none. */
    public void setWakeup(Runnable wakeup) {
        this.wakeup = wakeup;
    }

    /**
     * Marks a vector pending; callable from any thread. The OR is a full fence, so everything the
     * raiser wrote before (completion entries) is visible to the CPU that takes the vector.
     *
     * @return true when the vector was not already pending
     */
    public boolean raise(int vector) {
        long bit = 1L << vector;
        long before = (long) PENDING.getAndBitwiseOr(this, bit);
        if ((before & bit) != 0) {
            return false;
        }
        if (before == 0) {
            Runnable w = wakeup;
            if (w != null) {
                w.run();
            }
        }
        return true;
    }

    /** True when some vector is pending (acquire). */
    public boolean hasPending() {
        return (long) PENDING.getAcquire(this) != 0;
    }

    /** Takes every pending vector and runs its handler on {@code cpu}; returns how many ran. */
    public int deliver(Cpu cpu) {
        long taken = (long) PENDING.getAndSet(this, 0L);
        int ran = 0;
        while (taken != 0) {
            int vector = Long.numberOfTrailingZeros(taken);
            taken &= taken - 1;
            InterruptHandler h = handlers[vector];
            if (h == null) {
                spurious++;
            } else {
                h.onInterrupt(cpu, vector);
                ran++;
            }
        }
        delivered += ran;
        return ran;
    }

    /** Vectors whose handler ran. */
    public long delivered() {
        return delivered;
    }

    /** Raised vectors with no handler. */
    public long spurious() {
        return spurious;
    }

    private static void checkVector(int vector) {
        if (vector < 0 || vector >= VECTORS) {
            throw new IllegalArgumentException("interrupt vector must be 0.." + (VECTORS - 1) + "; got " + vector);
        }
    }
}
