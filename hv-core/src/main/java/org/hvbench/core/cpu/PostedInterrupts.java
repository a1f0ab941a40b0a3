package org.hvbench.core.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A vCPU's posted-interrupt descriptor (Intel VT-d posted interrupts with VMX APICv): a device's
 * interrupt is posted straight to a guest vCPU without entering the hypervisor. Posting sets the
 * vector's bit in a 256-bit pending bitmap (atomic OR), then sets the outstanding-notification bit
 * and, only if it was clear, sends one notification to the CPU that runs the vCPU. The CPU takes the
 * notification, clears the outstanding bit first and then takes every pending word with an
 * exchange, so a vector posted in between notifies again instead of being lost, and every posted
 * vector is delivered exactly once.
 */
public final class PostedInterrupts {
    public static final int VECTORS = 256;
    private static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle OUTSTANDING;

    static {
        try {
            OUTSTANDING = MethodHandles.lookup().findVarHandle(PostedInterrupts.class, "outstanding", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Runs for each delivered vector. */
    @FunctionalInterface
    public interface Handler {
        void onVector(int vector);
    }

    private final long[] pending = new long[VECTORS / 64];
    @SuppressWarnings("unused") // accessed through OUTSTANDING
    private volatile int outstanding;
    private final InterruptController notifyController;
    private final int notificationVector;
    private final java.util.concurrent.atomic.AtomicLong notifications = new java.util.concurrent.atomic.AtomicLong();

    /** Notifications go to vector {@code notificationVector} of {@code controller} (the vCPU's CPU). */
    public PostedInterrupts(InterruptController controller, int notificationVector) {
        this.notifyController = controller;
        this.notificationVector = notificationVector;
    }

    /**
     * Posts {@code vector}; callable from any thread.
     *
     * @return true when this post sent the notification
     */
    public boolean post(int vector) {
        if (vector < 0 || vector >= VECTORS) {
            throw new IllegalArgumentException("posted vector must be 0.." + (VECTORS - 1) + "; got " + vector);
        }
        WORDS.getAndBitwiseOr(pending, vector >>> 6, 1L << vector);
        if ((int) OUTSTANDING.getAndSet(this, 1) == 0) {
            notifications.incrementAndGet();
            notifyController.raise(notificationVector);
            return true;
        }
        return false;
    }

    /** A device's line posting {@code vector} here. */
    public IrqLine line(int vector) {
        return () -> post(vector);
    }

    /**
     * Takes the notification: clears the outstanding bit, then takes each pending word (exchange)
     * and runs {@code handler} for each vector. Returns how many ran.
     */
    public int drain(Handler handler) {
        OUTSTANDING.setVolatile(this, 0);
        int ran = 0;
        for (int w = 0; w < pending.length; w++) {
            long bits = (long) WORDS.getAndSet(pending, w, 0L);
            while (bits != 0) {
                int bit = Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                handler.onVector(w * 64 + bit);
                ran++;
            }
        }
        return ran;
    }

    /** Notifications sent (posts that found the outstanding bit clear). */
    public long notifications() {
        return notifications.get();
    }
}
