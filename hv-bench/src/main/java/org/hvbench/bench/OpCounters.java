package org.hvbench.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What each operation of {@link HypercallBench}, {@link GrantBench}, {@link EventChannelBench} and
 * {@link IommuBench} did, as JMH secondary results: the same counters {@link IoCounters} gives
 * ArchitectureBench, per operation instead of per I/O. All are {@code OPERATIONS} counters, so in a
 * throughput benchmark JMH reports each as a rate over the same measured time as {@code ops}, and any
 * counter divided by {@code ops} is that quantity per operation. {@link CoreMeter} fills them from the
 * core's own counters, read before and after each operation. JMH zeroes the fields at the start of
 * every iteration.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class OpCounters {
    /** Operations done: what the benchmark's class comment calls one operation. */
    public long ops;
    /** Crossings (DESIGN section 3) of the machine's CPUs; zero where no CPU runs (IommuBench). */
    public long crossings;
    /** CPU TLB misses (each one a page walk); zero where no CPU runs. */
    public long tlbMisses;
    /** IOTLB misses (each one an I/O page walk); zero where the IOMMU translates nothing. */
    public long iotlbMisses;
    /**
     * Notifications a receiving vCPU took (EventChannelBench): virtual interrupts, posted-interrupt
     * notification vectors, or the upcalls a polling consumer ran; zero where there are none.
     */
    public long notifications;
    /** Modelled nanoseconds of work, by the current-x86 cost profile unless the harness says otherwise. */
    public double modelledNs;

    @Setup(Level.Iteration)
    public void clear() {
        ops = 0;
        crossings = 0;
        tlbMisses = 0;
        iotlbMisses = 0;
        notifications = 0;
        modelledNs = 0;
    }
}
