package org.hvbench.core.cpu;

/**
 * Where a modelled nanosecond goes: the causes a {@link VirtualClock} keeps apart, so that the
 * modelled time of an I/O splits into parts that add up to it exactly. The first nine are the
 * {@link Crossing} kinds, in the same order; the rest are the work around and between crossings.
 */
public enum CostPart {
    SYSCALL("crossing.SYSCALL"),
    SYSRET("crossing.SYSRET"),
    HYPERCALL("crossing.HYPERCALL"),
    VMEXIT("crossing.VMEXIT"),
    VMENTRY("crossing.VMENTRY"),
    VIRQ("crossing.VIRQ"),
    UPCALL("crossing.UPCALL"),
    DEVICE_START("crossing.DEVICE_START"),
    DEVICE_IRQ("crossing.DEVICE_IRQ"),
    /** A context that had nothing left to do gives up the CPU (not a crossing). */
    IDLE_SWITCH("switch.IDLE"),
    /** The address-space root is switched (CR3 write) on entry into a context of another space. */
    ADDRESS_SPACE_SWITCH("addressSpace.switch"),
    /** TLB flushes: an untagged TLB on an address-space switch, shoot-downs after unmaps. */
    TLB_FLUSH("tlb.flush"),
    /** The fixed cost of a CPU TLB miss (the second-level TLB look-up before the walk). */
    TLB_MISS("tlb.miss"),
    /** The page-table levels read by the CPU's walks. */
    TLB_WALK("walk.level"),
    /** The fixed cost of an IOTLB miss. */
    IOTLB_MISS("iotlb.miss"),
    /** The I/O page-table levels read by the IOMMU's walks. */
    IOTLB_WALK("iotlb.walk"),
    /** IOTLB invalidations issued and waited for (strict unmaps, deferred batches, p2m changes). */
    IOTLB_INVALIDATE("iotlb.invalidate"),
    /** Bytes copied by a CPU (bounce buffers, persistent grants, the hypervisor's copy-in of requests). */
    COPY("copy"),
    /**
     * The hypervisor's work inside grant-table operations (map, unmap, copy): copying the operations
     * in, walking, the bytes a grant copy moves and the shoot-downs of an unmap. The hypercall that
     * enters it is counted under {@link #HYPERCALL}.
     */
    GRANT("grant"),
    /** The device's own work: the bytes its DMA moves. */
    DEVICE("device");

    private static final CostPart[] VALUES = values();
    public static final int COUNT = VALUES.length;

    private final String key;

    CostPart(String key) {
        this.key = key;
    }

    /** The part a crossing of {@code kind} is charged to. */
    public static CostPart of(Crossing kind) {
        return VALUES[kind.ordinal()];
    }

    public static CostPart of(int ordinal) {
        return VALUES[ordinal];
    }

    /** True for the nine crossing kinds. */
    public boolean isCrossing() {
        return ordinal() < Crossing.count();
    }

    /** A stable name for reports: {@code crossing.SYSCALL}, {@code tlb.miss}, {@code grant}, ... */
    public String key() {
        return key;
    }

    /**
     * The name of the JMH counter that carries this part's modelled nanoseconds: {@code ns_} and the
     * key with dots as underscores, e.g. {@code ns_crossing_SYSCALL}, {@code ns_tlb_miss}.
     */
    public String counter() {
        return "ns_" + key.replace('.', '_');
    }
}
