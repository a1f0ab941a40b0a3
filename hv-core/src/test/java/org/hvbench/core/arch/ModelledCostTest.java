package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.GrantMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The modelled column: bare native is the floor of every placement, and each modelled nanosecond
 * belongs to exactly one cause.
 */
class ModelledCostTest {
    private static final CostProfile X86 = CostProfile.load("current-x86");

    static Stream<Arguments> settings() {
        List<Arguments> out = new ArrayList<>();
        for (int size : new int[] {512, 4096, 65536}) {
            for (int depth : new int[] {1, 8, 32}) {
                out.add(Arguments.of(size, depth));
            }
        }
        return out.stream();
    }

    /**
     * Every placement runs the same I/O with the IOMMU its real system has; native on bare hardware
     * runs it with the fewest crossings and nothing between the app's kernel and the device, so no
     * placement may model cheaper (the paper's figure 4 is the floor of figures 5 to 7 and 1).
     */
    @ParameterizedTest(name = "{0} B, depth {1}")
    @MethodSource("settings")
    void noPlacementModelsCheaperThanBareNative(int size, int depth) {
        ModelledIo bare = ModelledIo.read("native", system(), size, depth);
        assertEquals(0, bare.iotlbMisses + bare.iotlbInvalidations, "bare native has no IOMMU in its path");
        for (Placement p : Placement.values()) {
            ModelledIo m = ModelledIo.read(p.id(), system(), size, depth);
            assertTrue(m.crossings >= bare.crossings, p + " has fewer crossings than native: " + m + " against " + bare);
            assertTrue(m.totalPicos >= bare.totalPicos, p + " models cheaper than bare native:\n  " + m + "\n  " + bare);
            if (m.crossings > bare.crossings) {
                assertTrue(m.totalPicos > bare.totalPicos, p + " adds crossings but models no dearer than bare native:\n  "
                    + m + "\n  " + bare);
            }
        }
    }

    /** The price of DMA protection for native: strict dearer than deferred, deferred dearer than none. */
    @ParameterizedTest(name = "{0} B, depth {1}")
    @MethodSource("settings")
    void nativeWithAnIommuCostsMoreThanBareNative(int size, int depth) {
        ModelledIo bare = ModelledIo.read("native", system(), size, depth);
        ModelledIo strict = ModelledIo.read("native", small().iommu("on"), size, depth);
        ModelledIo deferred = ModelledIo.read("native", small().iommu("on").iommuInvalidation("deferred"), size,
            depth);
        assertTrue(strict.totalPicos > deferred.totalPicos, strict + " against " + deferred);
        assertTrue(deferred.totalPicos > bare.totalPicos, deferred + " against " + bare);
        assertTrue(strict.nsPerIo(CostPart.IOTLB_INVALIDATE) > 0, "a strict unmap pays its invalidation: " + strict);
    }

    /**
     * Persistent grants are why io-partition can model dearer than dom0-emulator at depth 32 with
     * fewer crossings: its front end copies every byte between the granted pages and the app's
     * buffer, while the emulator's device DMAs straight into the guest's page. The split shows it:
     * without that copy, io-partition is the cheaper.
     */
    @Test
    void ioPartitionOverEmulatorIsThePersistentGrantCopy() {
        ModelledIo partition = ModelledIo.read("io-partition", system(), 4096, 32);
        ModelledIo emulator = ModelledIo.read("dom0-emulator", system(), 4096, 32);
        assertTrue(partition.crossings < emulator.crossings);
        assertEquals(4096, partition.bytesCopied / 32, "persistent grants copy each I/O's bytes once");
        assertEquals(0, emulator.bytesCopied, "the emulator's device writes into the guest's page");
        assertTrue(partition.totalPicos > emulator.totalPicos, "the order this test explains: " + partition + " / " + emulator);
        assertTrue(partition.totalPicos - partition.partPicos[CostPart.COPY.ordinal()] < emulator.totalPicos,
            "without its copy io-partition is cheaper than the emulator:\n  " + partition + "\n  " + emulator);
    }

    static Stream<Arguments> splitCases() {
        List<Arguments> out = new ArrayList<>();
        for (Placement p : Placement.values()) {
            for (int depth : new int[] {1, 32}) {
                out.add(Arguments.of(p.id(), "system", "strict", GrantMode.PERSISTENT, depth));
            }
        }
        for (String invalidation : new String[] {"strict", "deferred"}) {
            out.add(Arguments.of("native", "on", invalidation, GrantMode.PERSISTENT, 1));
            out.add(Arguments.of("native", "on", invalidation, GrantMode.PERSISTENT, 32));
            out.add(Arguments.of("hypervisor-pv", "on", invalidation, GrantMode.PERSISTENT, 1));
        }
        for (GrantMode mode : GrantMode.values()) {
            out.add(Arguments.of("io-partition", "on", "strict", mode, 1));
            out.add(Arguments.of("dom0-emulator", "on", "strict", mode, 32));
        }
        return out.stream();
    }

    /**
     * The parts add up to the total exactly, and each part is what its counted events cost: the
     * crossings of each kind times that kind's cost, idle switches, TLB misses and the levels their
     * walks read, IOTLB misses and invalidations, the device's bytes.
     */
    @ParameterizedTest(name = "{0} iommu={1} {2} {3} depth {4}")
    @MethodSource("splitCases")
    void theCostSplitAddsUpAndEachPartIsItsEvents(String placement, String iommu, String invalidation, GrantMode mode,
                                                   int depth) {
        ModelledIo m = ModelledIo.read(placement, small().iommu(iommu).iommuInvalidation(invalidation), 4096,
            depth, mode);
        long sum = 0;
        for (long part : m.partPicos) {
            sum += part;
        }
        assertEquals(m.totalPicos, sum, "the parts add up to the total: " + m);
        assertTrue(m.totalPicos > 0);
        for (Crossing k : Crossing.values()) {
            assertEquals(m.crossingsByKind[k.ordinal()] * X86.crossingPicos(k), m.partPicos[CostPart.of(k).ordinal()],
                k + " part is its crossings times their cost: " + m);
        }
        assertEquals(m.idleSwitches * X86.idleSwitchPicos(), m.partPicos[CostPart.IDLE_SWITCH.ordinal()], "idle switches: " + m);
        assertEquals(m.deviceBytes * X86.copyPicos(1024) / 1024, m.partPicos[CostPart.DEVICE.ordinal()], "device bytes: " + m);
        assertEquals(m.iotlbMisses * X86.iotlbMissPicos(), m.partPicos[CostPart.IOTLB_MISS.ordinal()], "IOTLB misses: " + m);
        long invalidations = "deferred".equals(invalidation) ? m.iotlbBatches : m.iotlbInvalidations;
        assertEquals(invalidations * X86.iotlbInvalidatePicos(), m.partPicos[CostPart.IOTLB_INVALIDATE.ordinal()],
            "IOTLB invalidations: " + m);
        assertEquals(0, m.walkFaults, "a steady-state I/O takes no translation fault: " + m);
        long grant = m.partPicos[CostPart.GRANT.ordinal()];
        if (grant == 0) {
            // Outside grant operations every TLB miss, walk level and copied byte is charged as itself.
            assertEquals(m.tlbMisses * X86.tlbMissPicos(), m.partPicos[CostPart.TLB_MISS.ordinal()], "TLB misses: " + m);
            assertEquals(m.walkLevels * X86.walkLevelPicos(), m.partPicos[CostPart.TLB_WALK.ordinal()], "walk levels: " + m);
            assertEquals(m.bytesCopied * X86.copyPicos(1024) / 1024, m.partPicos[CostPart.COPY.ordinal()], "copies: " + m);
        } else {
            assertTrue(m.tlbMisses * X86.tlbMissPicos() > m.partPicos[CostPart.TLB_MISS.ordinal()],
                "the grant operations' misses are theirs: " + m);
        }
        boolean grantOps = mode != GrantMode.PERSISTENT && (placement.equals("io-partition") || placement.equals("dom0-emulator"));
        assertEquals(grantOps, grant > 0, "grant operations are charged exactly where they run: " + m);
    }

    private static MachineConfig system() {
        return small().iommu(MachineConfig.IOMMU_SYSTEM);
    }

    /** A machine of 48 MiB: room for every placement's domains at depth 32 of 64 KiB, quick to build. */
    private static MachineConfig small() {
        return MachineConfig.defaults().memory(48L << 20).diskBytes(16L << 20);
    }
}
