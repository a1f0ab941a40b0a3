package org.hvbench.core.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

/**
 * How a party's thread waits for work in the threaded executor, and how others wake it: the HLT and
 * the IPI of a real CPU. As an {@link IdleStrategy} (what Agrona's {@code AgentRunner} calls between
 * duty cycles) it announces that it may sleep, checks its {@code ready} condition once more, and only
 * then lets the delegate strategy spin, yield or park. {@link #wake} unparks the thread only when it
 * announced sleep, so a busy party is never sent a needless {@code unpark} (which takes a lock in the
 * JVM's parker).
 *
 * <p>Memory order: the sleeper's volatile store of {@code asleep} is followed by its (volatile or
 * acquire) reads in {@code ready}; a waker makes its state change first, then a full fence, then
 * reads {@code asleep}. Of the two stores, each side sees the other's (the Dekker pattern), so either
 * the sleeper sees the work or the waker sees the sleeper: no wake-up is lost.
 *
 * <p>The delegate is set before the thread starts (the thread start publishes it).
 */
public final class Sleeper implements IdleStrategy {
    private static final VarHandle ASLEEP;

    static {
        try {
            ASLEEP = MethodHandles.lookup().findVarHandle(Sleeper.class, "asleep", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final BooleanSupplier ready;
    private IdleStrategy delegate = new BusySpinIdleStrategy();
    @SuppressWarnings("unused") // accessed through ASLEEP
    private volatile int asleep;
    private volatile Thread thread;

    /** @param ready true when the party has work (checked after announcing sleep) */
    public Sleeper(BooleanSupplier ready) {
        this.ready = ready;
    }

    /** The strategy that actually waits; set before the party's thread starts. */
    public void use(IdleStrategy strategy) {
        this.delegate = strategy;
    }

    public IdleStrategy delegate() {
        return delegate;
    }

    @Override
    public void idle(int workCount) {
        if (workCount > 0) {
            delegate.idle(workCount);
            return;
        }
        idle();
    }

    @Override
    public void idle() {
        if (!prepareToSleep()) {
            delegate.idle(0);
        }
        finishSleep();
    }

    /**
     * The first half of {@link #idle}: announces sleep (volatile store), then checks {@code ready}.
     *
     * @return true when there is work after all: do not sleep
     */
    public boolean prepareToSleep() {
        if (thread == null) {
            thread = Thread.currentThread();
        }
        ASLEEP.setVolatile(this, 1);
        return ready.getAsBoolean();
    }

    /** The second half of {@link #idle}: awake again, wakers need not unpark. */
    public void finishSleep() {
        ASLEEP.setRelease(this, 0);
    }

    /**
     * Waits on the calling thread until {@code done} is true or {@code timeoutNanos} have passed,
     * with the delegate strategy; {@link #wake} shortens the wait.
     *
     * @return true when {@code done} became true
     */
    public boolean await(BooleanSupplier done, long timeoutNanos) {
        if (done.getAsBoolean()) {
            return true;
        }
        thread = Thread.currentThread();
        long deadline = System.nanoTime() + timeoutNanos;
        delegate.reset();
        try {
            while (true) {
                ASLEEP.setVolatile(this, 1);
                if (done.getAsBoolean()) {
                    return true;
                }
                if (System.nanoTime() - deadline >= 0) {
                    return false;
                }
                delegate.idle(0);
            }
        } finally {
            ASLEEP.setRelease(this, 0);
        }
    }

    /**
     * Wakes the thread if it may be asleep; call after making the change it waits for.
     *
     * @return true when the thread had announced sleep (and was unparked, if it has run)
     */
    public boolean wake() {
        VarHandle.fullFence();
        if ((int) ASLEEP.getVolatile(this) == 0) {
            return false;
        }
        Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
        return true;
    }

    @Override
    public void reset() {
        delegate.reset();
    }

    @Override
    public String alias() {
        return "sleeper(" + delegate.alias() + ")";
    }
}
