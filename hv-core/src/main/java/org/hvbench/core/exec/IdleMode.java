package org.hvbench.core.exec;

import java.util.Locale;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;

/**
 * How a party's thread waits when it has nothing to do, in the threaded executor (Agrona's idle
 * strategies). Every mode is woken early by the party's {@link org.hvbench.core.cpu.Sleeper}; the
 * difference is what waiting costs and how fast a wake-up lands.
 */
public enum IdleMode {
    /** Spin on the CPU: the fastest hand-off, and a core burnt per waiting party. */
    SPIN("spin"),
    /** Spin, then yield, then park for growing periods (1 µs to 1 ms): Agrona's default back-off. */
    BACKOFF("backoff"),
    /** Park at once until woken (at most 1 ms, a bound that makes a lost wake-up show, not hang). */
    PARK("park");

    /** The park bound of {@link #PARK}. */
    public static final long PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final String id;

    IdleMode(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** A new strategy (they keep per-thread state: one per thread). */
    public IdleStrategy newStrategy() {
        switch (this) {
            case SPIN:
                return new BusySpinIdleStrategy();
            case BACKOFF:
                return new BackoffIdleStrategy();
            default:
                return new SleepingIdleStrategy(PARK_NANOS);
        }
    }

    /** @throws IllegalArgumentException naming the setting {@code idle} and what is allowed */
    public static IdleMode parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (IdleMode m : values()) {
            if (m.id.equals(n)) {
                return m;
            }
        }
        throw new IllegalArgumentException("idle: '" + name + "' is unknown; use spin, backoff or park");
    }

    @Override
    public String toString() {
        return id;
    }
}
