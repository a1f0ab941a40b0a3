package org.hvbench.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What each I/O did, as JMH secondary results. All are {@code OPERATIONS} counters, so JMH reports
 * them as rates over the same measured time as the score: {@code ios} is I/Os per second, and any
 * other counter divided by {@code ios} is that quantity per I/O (crossings per I/O, TLB misses per
 * I/O, IOTLB misses per I/O, modelled nanoseconds per I/O). {@code EVENTS} counters would be summed over iterations,
 * which makes ratios meaningless. JMH zeroes the fields at the start of every iteration.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class IoCounters {
    /** I/Os completed. */
    public long ios;
    /** Crossings (DESIGN section 3) performed. */
    public long crossings;
    /** CPU TLB misses (each one a page walk). */
    public long tlbMisses;
    /** Modelled nanoseconds of work, by the cost profile in use. */
    public double modelledNs;
    /** Notifications between domains (event sends); zero where there are none. */
    public long notifications;
    /** IOTLB misses (each one an I/O page walk); zero where the IOMMU does not translate. */
    public long iotlbMisses;

    @Setup(Level.Iteration)
    public void clear() {
        ios = 0;
        crossings = 0;
        tlbMisses = 0;
        modelledNs = 0;
        notifications = 0;
        iotlbMisses = 0;
    }
}
