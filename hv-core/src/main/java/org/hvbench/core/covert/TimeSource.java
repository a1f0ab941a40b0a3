package org.hvbench.core.covert;

import java.util.Locale;

/** Which clock prices each I/O on the channel's timeline: kept apart, as everywhere in hvbench. */
public enum TimeSource {
    /** The cost profile's virtual time: deterministic; the channel's capacity on that hardware. */
    MODELLED("modelled"),
    /**
     * {@code System.nanoTime} around each read's real execution in this JVM, one read at a time, as
     * its driver-side price on the scheduler's timeline: every scheduler, in this JVM's time.
     */
    MEASURED("measured"),
    /**
     * {@code System.nanoTime} of the receiver's reads while the guests' CPU, the partition's CPU and
     * the device each run on a thread of their own (the threaded executor) and the sender's reads are
     * really in flight: what this JVM leaks through the drivers as they are (they serve in ring and
     * queue order, FIFO), with no timeline at all.
     */
    THREADED("threaded");

    private final String id;

    TimeSource(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** @throws IllegalArgumentException naming the setting {@code clock} */
    public static TimeSource parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (TimeSource t : values()) {
            if (t.id.equals(n)) {
                return t;
            }
        }
        throw new IllegalArgumentException("clock: '" + name + "' is unknown; use modelled, measured or threaded");
    }

    @Override
    public String toString() {
        return id;
    }
}
