package org.hvbench.core.covert;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How a shared driver chooses whose request it serves next: the mitigations of a covert timing
 * channel through it, from none to complete. Karger and Safford (section 3.2) name slotted
 * transmission and continuous (padded) transmission; Karger and Wray's and Hu's work on storage and
 * timing channels is where the constant-rate family comes from.
 */
public enum Scheduler {
    /** First come, first served, work-conserving: what every driver in hvbench does today. */
    FIFO("fifo", "first come, first served; work-conserving"),
    /** One request per guest in turn among those waiting; work-conserving. */
    ROUND_ROBIN("round-robin", "one request per waiting guest in turn; work-conserving"),
    /**
     * A fixed cycle of slots, one per guest, each as long as the longest request: a guest's requests
     * run only in its own slots, as many as fit; a slot nobody uses stays idle.
     */
    TIME_SLOTTED("time-slotted", "fixed slots per guest, used or not; as many requests per slot as fit"),
    /**
     * Each guest is served at a fixed rate, one request per slot of its own, started at the slot's
     * beginning; when it has none, the driver does dummy work of the padded size instead.
     */
    CONSTANT_RATE("constant-rate", "one request per guest per slot at a fixed rate, padded with dummy work");

    private final String id;
    private final String description;

    Scheduler(String id, String description) {
        this.id = id;
        this.description = description;
    }

    public String id() {
        return id;
    }

    public String description() {
        return description;
    }

    /** True for the schedulers that keep each guest to slots of its own (non-work-conserving). */
    public boolean slotted() {
        return this == TIME_SLOTTED || this == CONSTANT_RATE;
    }

    public static List<String> ids() {
        List<String> out = new ArrayList<>();
        for (Scheduler s : values()) {
            out.add(s.id);
        }
        return out;
    }

    /** @throws IllegalArgumentException naming the setting {@code scheduler} and the known names */
    public static Scheduler parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (Scheduler s : values()) {
            if (s.id.equals(n)) {
                return s;
            }
        }
        throw new IllegalArgumentException("scheduler: '" + name + "' is unknown; known schedulers: " + String.join(", ", ids()));
    }

    @Override
    public String toString() {
        return id;
    }
}
