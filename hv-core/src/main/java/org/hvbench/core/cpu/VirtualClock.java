package org.hvbench.core.cpu;

/**
 * Modelled time: the nanoseconds a {@link CostProfile} says the counted events would have cost on the
 * hardware it describes. Kept in picoseconds so that sub-nanosecond costs add up exactly. This is
 * beside what JMH measures, never mixed with it. Single-owner (one CPU, or one device).
 */
public final class VirtualClock {
    private long picos;

    public void advance(long picoseconds) {
        picos += picoseconds;
    }

    public long picos() {
        return picos;
    }

    public double nanos() {
        return picos / 1000.0;
    }
}
