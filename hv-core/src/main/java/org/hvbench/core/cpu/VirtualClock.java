package org.hvbench.core.cpu;

/**
 * Modelled time: the nanoseconds a {@link CostProfile} says the counted events would have cost on the
 * hardware it describes, kept by cause ({@link CostPart}) so that a total always splits into parts
 * that add up to it. Kept in picoseconds so that sub-nanosecond costs add up exactly. This is beside
 * what JMH measures, never mixed with it. Single-owner (one CPU, or one device): plain fields; another
 * thread's read is exact when the owner is quiet.
 */
public final class VirtualClock {
    private long picos;
    private final long[] parts = new long[CostPart.COUNT];

    public void advance(CostPart part, long picoseconds) {
        picos += picoseconds;
        parts[part.ordinal()] += picoseconds;
    }

    public long picos() {
        return picos;
    }

    /** The picoseconds charged to {@code part} so far. */
    public long picos(CostPart part) {
        return parts[part.ordinal()];
    }

    public double nanos() {
        return picos / 1000.0;
    }
}
