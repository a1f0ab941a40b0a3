package org.hvbench.bench;

import org.hvbench.core.cpu.CostPart;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Where {@link IoCounters#modelledNs} goes: one {@code OPERATIONS} counter of modelled nanoseconds
 * per {@link CostPart}, named {@link CostPart#counter()}; divided by {@code ios} each is that part's
 * ns per I/O, and the parts add up to {@code modelledNs}. JMH zeroes them at every iteration.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class CostSplit {
    public double ns_crossing_SYSCALL;
    public double ns_crossing_SYSRET;
    public double ns_crossing_HYPERCALL;
    public double ns_crossing_VMEXIT;
    public double ns_crossing_VMENTRY;
    public double ns_crossing_VIRQ;
    public double ns_crossing_UPCALL;
    public double ns_crossing_DEVICE_START;
    public double ns_crossing_DEVICE_IRQ;
    public double ns_switch_IDLE;
    public double ns_addressSpace_switch;
    public double ns_tlb_flush;
    public double ns_tlb_miss;
    public double ns_walk_level;
    public double ns_iotlb_miss;
    public double ns_iotlb_walk;
    public double ns_iotlb_invalidate;
    public double ns_copy;
    public double ns_grant;
    public double ns_device;

    /** Adds {@code ns} modelled nanoseconds to {@code part}. */
    void add(CostPart part, double ns) {
        switch (part) {
            case SYSCALL:
                ns_crossing_SYSCALL += ns;
                break;
            case SYSRET:
                ns_crossing_SYSRET += ns;
                break;
            case HYPERCALL:
                ns_crossing_HYPERCALL += ns;
                break;
            case VMEXIT:
                ns_crossing_VMEXIT += ns;
                break;
            case VMENTRY:
                ns_crossing_VMENTRY += ns;
                break;
            case VIRQ:
                ns_crossing_VIRQ += ns;
                break;
            case UPCALL:
                ns_crossing_UPCALL += ns;
                break;
            case DEVICE_START:
                ns_crossing_DEVICE_START += ns;
                break;
            case DEVICE_IRQ:
                ns_crossing_DEVICE_IRQ += ns;
                break;
            case IDLE_SWITCH:
                ns_switch_IDLE += ns;
                break;
            case ADDRESS_SPACE_SWITCH:
                ns_addressSpace_switch += ns;
                break;
            case TLB_FLUSH:
                ns_tlb_flush += ns;
                break;
            case TLB_MISS:
                ns_tlb_miss += ns;
                break;
            case TLB_WALK:
                ns_walk_level += ns;
                break;
            case IOTLB_MISS:
                ns_iotlb_miss += ns;
                break;
            case IOTLB_WALK:
                ns_iotlb_walk += ns;
                break;
            case IOTLB_INVALIDATE:
                ns_iotlb_invalidate += ns;
                break;
            case COPY:
                ns_copy += ns;
                break;
            case GRANT:
                ns_grant += ns;
                break;
            case DEVICE:
                ns_device += ns;
                break;
            default:
                throw new IllegalStateException("no counter for cost part " + part);
        }
    }

    @Setup(Level.Iteration)
    public void clear() {
        ns_crossing_SYSCALL = 0;
        ns_crossing_SYSRET = 0;
        ns_crossing_HYPERCALL = 0;
        ns_crossing_VMEXIT = 0;
        ns_crossing_VMENTRY = 0;
        ns_crossing_VIRQ = 0;
        ns_crossing_UPCALL = 0;
        ns_crossing_DEVICE_START = 0;
        ns_crossing_DEVICE_IRQ = 0;
        ns_switch_IDLE = 0;
        ns_addressSpace_switch = 0;
        ns_tlb_flush = 0;
        ns_tlb_miss = 0;
        ns_walk_level = 0;
        ns_iotlb_miss = 0;
        ns_iotlb_walk = 0;
        ns_iotlb_invalidate = 0;
        ns_copy = 0;
        ns_grant = 0;
        ns_device = 0;
    }
}
