package org.hvbench.core.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.PageWalker;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The IOMMU on its own: translation, permissions, faults, the IOTLB and both invalidation modes. */
class IommuTest {
    private static final int DEVICE = 3;
    private static final int TAG = 11;
    private static final int RW = Translation.READ | Translation.WRITE;
    private static final CostProfile COSTS = CostProfile.load("current-x86");

    private final List<MachineMemory> memories = new ArrayList<>();

    private MachineMemory memory(long bytes) {
        MachineMemory m = new MachineMemory(bytes);
        memories.add(m);
        return m;
    }

    @AfterEach
    void free() {
        memories.forEach(MachineMemory::close);
    }

    /** A 4-level I/O page table the device's context translates through. */
    private record Translated(PageTable table, Iommu iommu) {
    }

    private Translated translated(InvalidationMode mode, int batch) {
        MachineMemory memory = memory(16L << 20);
        PageTable table = new PageTable(new FrameAllocator(memory), 4, FrameAllocator.OWNER_HYPERVISOR);
        Iommu iommu = iommu(memory, mode, batch);
        iommu.attachTable(DEVICE, table, TAG);
        return new Translated(table, iommu);
    }

    private static Iommu iommu(MachineMemory memory, InvalidationMode mode, int batch) {
        return new Iommu(memory, COSTS, new Tlb(64, 4, true), mode, batch, 64);
    }

    @ParameterizedTest(name = "{0} levels, 2^{1} pages")
    @CsvSource({"3, 12", "3, 21", "3, 30", "4, 12", "4, 21", "4, 30", "5, 12", "5, 21", "5, 30"})
    void translatesAtEveryLevelCountAndPageSizeAndCachesInTheIotlb(int levels, int shift) {
        long page = 1L << shift;
        MachineMemory memory = memory(shift == PageTable.SHIFT_1G ? MachineMemory.MAX_BYTES : 16L << 20);
        FrameAllocator frames = new FrameAllocator(memory);
        PageTable table = new PageTable(frames, levels, FrameAllocator.OWNER_HYPERVISOR);
        Iommu iommu = iommu(memory, InvalidationMode.STRICT, 8);
        iommu.attachTable(DEVICE, table, TAG);
        // The highest page the table can reach, mapped to the first machine page of that size.
        long iova = table.addressLimit() - page;
        long ma = shift == PageTable.SHIFT_1G ? 0 : page;
        assertEquals(0, table.map(iova, ma, shift, RW));
        long offset = page - 8;

        long before = iommu.clock().picos();
        assertEquals(ma + offset, iommu.translate(DEVICE, iova + offset, Translation.WRITE), "first access: a walk");
        assertEquals(COSTS.iotlbMissPicos() + PageWalker.levelsRead(levels, shift) * COSTS.walkLevelPicos(),
            iommu.clock().picos() - before, "an IOTLB miss costs the miss and one read per level above the leaf");
        assertEquals(1, iommu.iotlb().misses());

        before = iommu.clock().picos();
        assertEquals(ma, iommu.translate(DEVICE, iova, Translation.READ), "same page: an IOTLB hit");
        assertEquals(0, iommu.clock().picos() - before, "a hit costs nothing more");
        assertEquals(1, iommu.iotlb().hits());
        assertEquals(0, iommu.refused());
    }

    @Test
    void aMissingPermissionOrAnUnmappedAddressFaultsAndIsLogged() {
        Translated t = translated(InvalidationMode.STRICT, 8);
        PageTable table = t.table();
        Iommu iommu = t.iommu();
        assertEquals(0, table.map(0x40000, 0x80000, PageTable.SHIFT_4K, Translation.READ));
        assertEquals(0, table.map(0x41000, 0x81000, PageTable.SHIFT_4K, Translation.WRITE));

        assertEquals(0x80010, iommu.translate(DEVICE, 0x40010, Translation.READ), "the device may read");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, 0x40010, Translation.WRITE), "but not write (a hit, still checked)");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, 0x41000, Translation.READ), "a write-only page is not readable");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, 0x42000, Translation.READ), "unmapped");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, table.addressLimit(), Translation.READ), "beyond the table");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, -4096, Translation.READ), "negative");
        assertEquals(-Errno.EFAULT, iommu.translate(Iommu.MAX_DEVICES, 0x40000, Translation.READ), "no such device");
        assertEquals(6, iommu.refused());

        List<String> logged = new ArrayList<>();
        assertEquals(6, iommu.faults().drain((device, iova, access) -> logged.add(device + ":" + Long.toHexString(iova) + ":" + access)));
        assertEquals(List.of(DEVICE + ":40010:2", DEVICE + ":41000:1", DEVICE + ":42000:1",
            DEVICE + ":" + Long.toHexString(table.addressLimit()) + ":1", DEVICE + ":fffffffffffff000:1",
            Iommu.MAX_DEVICES + ":40000:1"), logged);
    }

    @Test
    void contextsPassThroughExcludeOrBlock() {
        MachineMemory memory = memory(16L << 20);
        Iommu iommu = iommu(memory, InvalidationMode.STRICT, 8);
        assertEquals(0x5000, iommu.translate(DEVICE, 0x5000, Translation.WRITE), "a new device passes through (identity)");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, memory.bytes(), Translation.READ), "but not past memory");
        iommu.attachExclusion(DEVICE);
        iommu.exclude(5);
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, 0x5008, Translation.READ), "an excluded frame");
        assertEquals(0x6000, iommu.translate(DEVICE, 0x6000, Translation.WRITE), "its neighbour is reachable, untranslated");
        iommu.include(5);
        assertEquals(0x5008, iommu.translate(DEVICE, 0x5008, Translation.READ), "included again");
        iommu.block(DEVICE);
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, 0x6000, Translation.READ), "a blocked device reaches nothing");
    }

    @Test
    void strictModeNoDmaSucceedsAfterItsUnmapReturns() {
        Translated t = translated(InvalidationMode.STRICT, 8);
        PageTable table = t.table();
        Iommu iommu = t.iommu();
        DmaMapper dma = new DmaMapper(iommu, table, TAG);
        for (int i = 0; i < 100; i++) {
            long ma = 0x200000 + (i % 7) * 4096L;
            long bus = dma.map(ma, Translation.WRITE);
            assertEquals(ma + 64, iommu.translate(DEVICE, bus + 64, Translation.WRITE), "mapped: reachable");
            assertEquals(0, dma.unmap(bus));
            assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, bus + 64, Translation.WRITE), "unmapped: refused at once");
        }
        assertEquals(0, iommu.staleSuccesses());
        assertEquals(100, iommu.invalidations(), "one invalidation per unmap");
        assertEquals(0, dma.mappedPages());
    }

    @Test
    void deferredModeCountsStaleSuccessesUntilTheFlush() {
        Translated t = translated(InvalidationMode.DEFERRED, 4);
        PageTable table = t.table();
        Iommu iommu = t.iommu();
        DmaMapper dma = new DmaMapper(iommu, table, TAG);
        long bus = dma.map(0x300000, Translation.READ);
        assertEquals(0x300000, iommu.translate(DEVICE, bus, Translation.READ));
        assertEquals(0, dma.unmap(bus));
        assertEquals(1, iommu.pendingUnmaps());

        assertEquals(0x300000, iommu.translate(DEVICE, bus, Translation.READ), "the stale IOTLB entry still works");
        assertEquals(0x300008, iommu.translate(DEVICE, bus + 8, Translation.READ));
        assertEquals(2, iommu.staleSuccesses());
        assertEquals(2, iommu.staleSinceFlush());

        iommu.flush();
        assertEquals(0, iommu.pendingUnmaps());
        assertEquals(0, iommu.staleSinceFlush(), "the window is closed");
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, bus, Translation.READ), "refused after the flush");
        assertEquals(0, iommu.staleSinceFlush());
        assertEquals(2, iommu.staleSuccesses(), "the total is kept");
        assertEquals(1, iommu.batches());
    }

    @Test
    void deferredModeFlushesByItselfWhenTheBatchIsFull() {
        Translated t = translated(InvalidationMode.DEFERRED, 4);
        PageTable table = t.table();
        Iommu iommu = t.iommu();
        DmaMapper dma = new DmaMapper(iommu, table, TAG);
        for (int i = 0; i < 3; i++) {
            long bus = dma.map(0x300000 + i * 4096L, Translation.READ);
            iommu.translate(DEVICE, bus, Translation.READ);
            dma.unmap(bus);
        }
        assertEquals(3, iommu.pendingUnmaps());
        assertEquals(0, iommu.batches());
        long bus = dma.map(0x310000, Translation.READ);
        dma.unmap(bus);
        assertEquals(0, iommu.pendingUnmaps(), "the fourth unmap filled the batch");
        assertEquals(1, iommu.batches());
        assertEquals(4, iommu.invalidations());
        for (int i = 0; i < 3; i++) {
            assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, 0x300000 + i * 4096L, Translation.READ));
        }
    }

    @Test
    void theMapperReusesAnIoAddressAtOnceWhenStrictAndOnlyAfterTheFlushWhenDeferred() {
        MachineMemory memory = memory(16L << 20);
        for (InvalidationMode mode : InvalidationMode.values()) {
            PageTable table = new PageTable(new FrameAllocator(memory), 4, FrameAllocator.OWNER_HYPERVISOR);
            Iommu iommu = iommu(memory, mode, 8);
            iommu.attachTable(DEVICE, table, TAG);
            DmaMapper dma = new DmaMapper(iommu, table, TAG);
            long first = dma.map(0x300000, Translation.READ);
            assertEquals(0x300000, iommu.translate(DEVICE, first, Translation.READ));
            assertEquals(0, dma.unmap(first));
            long second = dma.map(0x301000, Translation.READ);
            if (mode == InvalidationMode.STRICT) {
                assertEquals(first, second, "strict: the address is free as soon as it is unmapped");
                assertEquals(0x301000, iommu.translate(DEVICE, second, Translation.READ), "and translates anew");
            } else {
                assertTrue(first != second, "deferred: the address waits for the flush");
                assertEquals(1, dma.heldBack());
                assertEquals(0x300000, iommu.translate(DEVICE, first, Translation.READ), "its stale entry still works");
                iommu.flush();
                assertEquals(0, dma.unmap(second));
                assertEquals(1, dma.heldBack(), "the second waits for the next flush");
                assertEquals(first, dma.map(0x302000, Translation.READ), "after the flush the first address is free again");
                assertEquals(0x302000, iommu.translate(DEVICE, first, Translation.READ), "never shadowed by its old entry");
            }
            assertEquals(-Errno.EINVAL, dma.unmap(0x300000), "not an address the mapper gave out");
            assertEquals(1, dma.mappedPages());
            table.destroy();
        }
    }

    @Test
    void aDeferredMapperThatRunsOutOfAddressesFlushesRatherThanFails() {
        MachineMemory memory = memory(16L << 20);
        PageTable table = new PageTable(new FrameAllocator(memory), 4, FrameAllocator.OWNER_HYPERVISOR);
        // A batch larger than the address range: only running out can force the flush.
        Iommu iommu = iommu(memory, InvalidationMode.DEFERRED, 64);
        iommu.attachTable(DEVICE, table, TAG);
        DmaMapper dma = new DmaMapper(iommu, table, TAG, 16);
        for (int i = 0; i < 16 * 5 + 3; i++) {
            long bus = dma.map(0x300000 + (i & 15) * 4096L, Translation.WRITE);
            assertTrue(bus >= DmaMapper.IOVA_BASE, "map " + i + " got an address: " + bus);
            assertEquals(0, dma.unmap(bus));
        }
        assertEquals(5, iommu.batches(), "the mapper flushed each time all 16 addresses waited for one");
        assertEquals(0, dma.mappedPages());
    }

    @Test
    void aPageMappedAgainBeforeTheFlushUsesItsNewTranslation() {
        Translated t = translated(InvalidationMode.DEFERRED, 64);
        PageTable table = t.table();
        Iommu iommu = t.iommu();
        assertEquals(0, table.map(0x40000, 0x300000, PageTable.SHIFT_4K, RW));
        assertEquals(0x300000, iommu.translate(DEVICE, 0x40000, Translation.READ));
        assertEquals(PageTable.SHIFT_4K, iommu.unmap(table, TAG, 0x40000));
        // The same I/O address now names another frame: the stale entry must not shadow it.
        iommu.mapping(TAG, 0x40000);
        assertEquals(0, table.map(0x40000, 0x500000, PageTable.SHIFT_4K, RW));
        assertEquals(0x500000, iommu.translate(DEVICE, 0x40000, Translation.READ));
        assertEquals(0, iommu.staleSuccesses(), "a use of the new mapping is not stale");
        assertEquals(0, iommu.pendingUnmaps());
    }

    @Test
    void aFaultStormOverflowsTheLogWithoutBlockingAndTheLogKeepsWorking() throws Exception {
        FaultLog log = new FaultLog(64);
        int threads = 4;
        int perThread = 50_000;
        java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicLong drained = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicBoolean producing = new java.util.concurrent.atomic.AtomicBoolean(true);
        List<Thread> devices = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int device = t;
            Thread d = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < perThread; i++) {
                    log.record(device, i * 4096L, Translation.WRITE);
                }
            }, "device-" + t);
            d.start();
            devices.add(d);
        }
        Thread reader = new Thread(() -> {
            while (producing.get()) {
                drained.addAndGet(log.drain((device, iova, access) -> { }));
            }
        }, "fault-reader");
        reader.start();
        start.countDown();
        for (Thread d : devices) {
            d.join(30_000);
            assertTrue(!d.isAlive(), d.getName() + " blocked while recording faults");
        }
        producing.set(false);
        reader.join(30_000);
        assertTrue(!reader.isAlive(), "the reader finished");
        drained.addAndGet(log.drain((device, iova, access) -> { }));

        long attempts = (long) threads * perThread;
        assertEquals(attempts, log.recorded() + log.overflowed(), "every fault is either logged or counted as overflow");
        assertEquals(log.recorded(), drained.get(), "every logged fault is read exactly once");

        // With no reader, the 65th fault overflows; after a drain the log takes faults again.
        for (int i = 0; i < 100; i++) {
            log.record(9, i, Translation.READ);
        }
        long overflowBefore = log.overflowed();
        assertEquals(64, log.drain((device, iova, access) -> assertEquals(9, device)));
        log.record(9, 7, Translation.READ);
        assertEquals(overflowBefore, log.overflowed());
        assertEquals(1, log.drain((device, iova, access) -> assertEquals(7, iova)));
    }
}
