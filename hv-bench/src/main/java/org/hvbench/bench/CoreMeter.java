package org.hvbench.bench;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.VirtualClock;
import org.hvbench.core.mem.Tlb;

/**
 * Reads the core's counters before an operation ({@link #begin}) and adds what the operation changed
 * to an {@link OpCounters} ({@link #end}): crossings and TLB misses of the given CPUs, misses of one
 * IOTLB, and the modelled time of the CPUs' clocks plus one more clock (an IOMMU's). Notifications
 * come from the harness, which knows where its events are counted. Plain reads of single-owner
 * counters, kept in fields of this preallocated object: nothing is allocated per operation. Built at
 * set-up, used by one thread.
 */
final class CoreMeter {
    private static final Cpu[] NO_CPUS = new Cpu[0];

    private final Cpu[] cpus;
    private final Tlb iotlb;
    private final VirtualClock clock;
    private long crossings;
    private long tlbMisses;
    private long iotlbMisses;
    private long notifications;
    private long picos;

    /**
     * @param cpus the CPUs whose crossings, TLB misses and clocks count (none for a bare IOMMU)
     * @param iotlb the IOTLB whose misses count, or {@code null}
     * @param clock one more clock whose modelled time counts (an IOMMU's), or {@code null}
     */
    CoreMeter(Cpu[] cpus, Tlb iotlb, VirtualClock clock) {
        this.cpus = cpus == null ? NO_CPUS : cpus.clone();
        this.iotlb = iotlb;
        this.clock = clock;
    }

    /** Remembers the counters as they are before the operation; {@code notificationsNow} is the harness's count. */
    void begin(long notificationsNow) {
        long c = 0;
        long m = 0;
        long p = 0;
        for (Cpu cpu : cpus) {
            c += cpu.trace().total();
            m += cpu.tlb().misses();
            p += cpu.clock().picos();
        }
        crossings = c;
        tlbMisses = m;
        iotlbMisses = iotlb == null ? 0 : iotlb.misses();
        picos = clock == null ? p : p + clock.picos();
        notifications = notificationsNow;
    }

    /** Adds {@code ops} operations and what changed since {@link #begin} to {@code counters}. */
    void end(OpCounters counters, long ops, long notificationsNow) {
        long c = 0;
        long m = 0;
        long p = 0;
        for (Cpu cpu : cpus) {
            c += cpu.trace().total();
            m += cpu.tlb().misses();
            p += cpu.clock().picos();
        }
        if (clock != null) {
            p += clock.picos();
        }
        counters.ops += ops;
        counters.crossings += c - crossings;
        counters.tlbMisses += m - tlbMisses;
        counters.iotlbMisses += (iotlb == null ? 0 : iotlb.misses()) - iotlbMisses;
        counters.notifications += notificationsNow - notifications;
        counters.modelledNs += (p - picos) / 1000.0;
    }
}
