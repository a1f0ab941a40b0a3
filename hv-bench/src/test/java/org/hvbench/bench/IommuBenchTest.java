package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * IommuBench's set-ups, operations and end-of-iteration checks, driven directly: translations give
 * the mapped machine addresses and hit or miss as named, each protection scheme's DMA reaches its
 * buffer and its unmap is invalidated; the check fails when the DMAs are refused or none ran.
 */
class IommuBenchTest {
    private static IommuBench.Translate translate(String iotlb, int levels, String pageSize) {
        IommuBench.Translate s = new IommuBench.Translate();
        s.iotlb = iotlb;
        s.levels = levels;
        s.pageSize = pageSize;
        s.build();
        s.startIteration();
        return s;
    }

    @ParameterizedTest(name = "iotlb={0}, levels={1}, pageSize={2}")
    @CsvSource({"hit, 4, 4k", "miss, 4, 4k", "off, 4, 4k", "hit, 3, 2m", "miss, 5, 2m"})
    void translationsGiveTheMappedAddressAndHitOrMissAsNamed(String iotlb, int levels, String pageSize) {
        IommuBench.Translate s = translate(iotlb, levels, pageSize);
        try {
            IommuBench bench = new IommuBench();
            OpCounters ops = new OpCounters();
            int n = s.iovas.length * 2;
            for (int i = 0; i < n; i++) {
                assertTrue(bench.translate(s, ops) >= 0);
            }
            s.checkIteration();
            assertEquals(n, ops.ops);
            assertEquals(iotlb.equals("miss") ? n : 0, ops.iotlbMisses);
            assertEquals(0, ops.crossings, "no CPU runs here");
            assertEquals(iotlb.equals("miss"), ops.modelledNs > 0, "only a miss costs modelled time");
        } finally {
            s.free();
        }
    }

    @Test
    void theCheckFailsWhenTheDeviceIsBlocked() {
        IommuBench.Translate s = translate("hit", 4, "4k");
        try {
            s.iommu.block(IommuBench.DEVICE);
            new IommuBench().translate(s, new OpCounters());
            IllegalStateException e = assertThrows(IllegalStateException.class, s::checkIteration);
            assertTrue(e.getMessage().contains("1 of 1 translations did not give the mapped machine address"), e.getMessage());
        } finally {
            s.free();
        }
    }

    private static IommuBench.Protection protection(String protection) {
        IommuBench.Protection s = new IommuBench.Protection();
        s.protection = protection;
        s.build();
        s.startIteration();
        return s;
    }

    @ParameterizedTest(name = "protection={0}")
    @ValueSource(strings = {"none", "exclusion", "strict", "deferred"})
    void eachDmaReachesItsBufferAndEveryUnmapIsInvalidated(String protection) {
        IommuBench.Protection s = protection(protection);
        try {
            IommuBench bench = new IommuBench();
            OpCounters ops = new OpCounters();
            IommuBench.ProtectionCounters counters = new IommuBench.ProtectionCounters();
            int n = 300; // more than a deferred batch of 256
            for (int i = 0; i < n; i++) {
                bench.mapUnmap(s, ops, counters);
            }
            s.checkIteration();
            assertEquals(n, ops.ops);
            boolean mapped = protection.equals("strict") || protection.equals("deferred");
            assertEquals(mapped ? n : 0, ops.iotlbMisses, "each fresh mapping misses once");
            if (protection.equals("strict")) {
                assertEquals(n, counters.invalidations);
            }
            assertEquals(0, counters.staleSuccesses);
        } finally {
            s.free();
        }
    }

    @Test
    void theProtectionCheckFailsWhenNoDmaRan() {
        IommuBench.Protection s = protection("strict");
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, s::checkIteration);
            assertTrue(e.getMessage().contains("no DMA"), e.getMessage());
        } finally {
            s.free();
        }
    }
}
