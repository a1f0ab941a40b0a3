package org.hvbench.core.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The IOMMU handed to a device's thread (threaded executor): invalidations from a CPU's thread are
 * applied by the owner, strict ones before {@code unmap} returns; a second posting thread is refused.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IommuOwnerTest {
    private static final int DEVICE = 3;
    private static final int TAG = 11;
    private static final long IOVA = 0x40000;

    private MachineMemory memory;
    private PageTable table;
    private Thread owner;
    private final AtomicBoolean running = new AtomicBoolean(true);

    @BeforeEach
    void setUp() {
        memory = new MachineMemory(16L << 20);
        table = new PageTable(new FrameAllocator(memory), 4, FrameAllocator.OWNER_HYPERVISOR);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        running.set(false);
        if (owner != null) {
            owner.join(TimeUnit.SECONDS.toMillis(10));
            assertTrue(!owner.isAlive(), "the owner thread stopped");
        }
        memory.close();
    }

    /** Starts a thread that owns {@code iommu}, translates {@code IOVA} in a loop and records what it last got. */
    private AtomicReference<Long> own(Iommu iommu) throws InterruptedException {
        AtomicReference<Long> last = new AtomicReference<>(0L);
        CountDownLatch owned = new CountDownLatch(1);
        owner = new Thread(() -> {
            iommu.setOwner(Thread.currentThread(), null);
            owned.countDown();
            while (running.get()) {
                last.set(iommu.translate(DEVICE, IOVA, Translation.READ));
                iommu.serviceRequests();
            }
            iommu.setOwner(null, null);
        }, "iommu-owner");
        owner.start();
        assertTrue(owned.await(10, TimeUnit.SECONDS), "the owner thread started");
        return last;
    }

    private Iommu iommu(InvalidationMode mode) {
        Iommu iommu = new Iommu(memory, CostProfile.load("none"), new Tlb(64, 4, true), mode, 4, 64);
        iommu.attachTable(DEVICE, table, TAG);
        return iommu;
    }

    @Test
    void aStrictUnmapFromAnotherThreadIsAppliedByTheOwnerBeforeItReturns() throws InterruptedException {
        Iommu iommu = iommu(InvalidationMode.STRICT);
        assertEquals(0, table.map(IOVA, 0x80000, PageTable.SHIFT_4K, Translation.READ));
        own(iommu);
        assertTrue(iommu.unmap(table, TAG, IOVA) >= 0);
        // The owner applied the invalidation before unmap returned: it counted it.
        assertEquals(1, iommu.invalidations());
        running.set(false);
        owner.join(TimeUnit.SECONDS.toMillis(10));
        assertEquals(-Errno.EFAULT, iommu.translate(DEVICE, IOVA, Translation.READ),
            "no IOTLB entry survives: the page faults");
    }

    @Test
    void deferredUnmapsFromAnotherThreadReachTheOwnersQueueAndAFlushEmptiesIt() throws InterruptedException {
        Iommu iommu = iommu(InvalidationMode.DEFERRED);
        for (int i = 0; i < 3; i++) {
            assertEquals(0, table.map(IOVA + i * 4096L, 0x80000 + i * 4096L, PageTable.SHIFT_4K, Translation.READ));
        }
        own(iommu);
        for (int i = 0; i < 3; i++) {
            assertTrue(iommu.unmap(table, TAG, IOVA + i * 4096L) >= 0);
        }
        iommu.flush();
        assertEquals(0, iommu.pendingUnmaps(), "the flush waited for the owner, which emptied the queue");
        assertEquals(1, iommu.batches());
        assertEquals(3, iommu.invalidations());
    }

    @Test
    void aSecondPostingThreadIsRefusedLoudly() throws InterruptedException {
        Iommu iommu = iommu(InvalidationMode.STRICT);
        own(iommu);
        iommu.invalidateNow(TAG, IOVA);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread second = new Thread(() -> {
            try {
                iommu.invalidateNow(TAG, IOVA + 4096);
            } catch (Throwable t) {
                thrown.set(t);
            }
        }, "second-cpu");
        second.start();
        second.join(TimeUnit.SECONDS.toMillis(10));
        assertTrue(thrown.get() instanceof IllegalStateException, "refused: " + thrown.get());
        assertTrue(thrown.get().getMessage().contains("second-cpu"), thrown.get().getMessage());
    }
}
