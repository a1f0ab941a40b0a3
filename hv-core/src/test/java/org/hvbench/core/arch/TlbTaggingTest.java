package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The effect Karger and Safford point to (section 4.3): with untagged TLBs every switch of address
 * space flushes, so a placement that enters the hypervisor takes more TLB misses per I/O than native;
 * tags take most of them away. Counted, not timed.
 */
class TlbTaggingTest {
    static long missesPerIo(Placement placement, boolean tagged) {
        try (IoPath path = placement.open(MachineConfig.defaults().memory(64L << 20).tlbTagged(tagged).tlb(64, 8), 1)) {
            long buffer = path.app().allocateBuffer(4096);
            path.app().prepare(path.cpu(), 0, Aio.PREAD, 0, buffer, 4096, 0);
            InlineExecutor executor = new InlineExecutor(path);
            for (int i = 0; i < 20; i++) {
                executor.runBatch(1);
            }
            long before = path.cpu().tlb().misses();
            for (int i = 0; i < 100; i++) {
                executor.runBatch(1);
            }
            return (path.cpu().tlb().misses() - before) / 100;
        }
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"HYPERVISOR_PV", "HYPERVISOR_TRAP"})
    void untaggedTlbMissesMoreInTheHypervisorPlacementsThanNativeAndTagsHelp(Placement placement) {
        long nativeUntagged = missesPerIo(Placement.NATIVE, false);
        long untagged = missesPerIo(placement, false);
        long tagged = missesPerIo(placement, true);
        assertEquals(0, missesPerIo(Placement.NATIVE, true), "native in steady state: everything hits");
        assertEquals(0, nativeUntagged, "native never switches address space");
        assertTrue(untagged > 0, placement + " untagged misses " + untagged);
        assertTrue(tagged < untagged, placement + ": tagged " + tagged + " < untagged " + untagged);
    }
}
