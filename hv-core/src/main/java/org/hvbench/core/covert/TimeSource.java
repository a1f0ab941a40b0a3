package org.hvbench.core.covert;

import java.util.Locale;

/** Which clock prices each I/O on the channel's timeline: kept apart, as everywhere in hvbench. */
public enum TimeSource {
    /** The cost profile's virtual time: deterministic; the channel's capacity on that hardware. */
    MODELLED("modelled"),
    /** {@code System.nanoTime} around each I/O's real execution in this JVM: what the JVM leaks. */
    MEASURED("measured");

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
        throw new IllegalArgumentException("clock: '" + name + "' is unknown; use modelled or measured");
    }

    @Override
    public String toString() {
        return id;
    }
}
