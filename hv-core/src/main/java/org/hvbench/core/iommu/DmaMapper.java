package org.hvbench.core.iommu;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/**
 * A driver's DMA mapping for a device whose context has its own I/O page table (Linux's
 * {@code dma_map_page} / {@code dma_unmap_page} with an IOMMU): before the device may touch a page,
 * the driver maps it at a fresh I/O address with the access the transfer needs; after the transfer it
 * unmaps it, which invalidates per the IOMMU's mode.
 *
 * <p>I/O addresses come from a range of their own, as Linux's IOVA allocator gives them. In strict
 * mode a freed address is reused at once (its IOTLB entry is gone). In deferred mode it is held back
 * until the IOMMU's next batched flush, as Linux's flush queue holds IOVAs, so a stale IOTLB entry
 * can never translate a new mapping. Free and held addresses sit in preallocated arrays: nothing is
 * allocated once warm. Queues the device uses for good are mapped at their machine address
 * ({@link #mapPermanently}), below the allocated range.
 */
public final class DmaMapper {
    /** First allocated I/O address: above any machine address (at most 1 GiB), inside a 3-level table. */
    public static final long IOVA_BASE = 1L << 36;
    /** I/O pages that may be mapped or held back at once, by default. */
    public static final int CAPACITY = 1 << 17;

    private final Iommu iommu;
    private final PageTable table;
    private final int contextTag;
    private final boolean deferred;
    private final int capacity;
    private final long[] free;
    private int freeCount;
    // Held-back pages in unmap order, each with the flush count at its unmap: [heldHead, heldTail).
    private final long[] held;
    private final long[] heldEpoch;
    private long heldHead;
    private long heldTail;
    private int mapped;
    private long maps;
    private long unmaps;

    public DmaMapper(Iommu iommu, PageTable table, int contextTag) {
        this(iommu, table, contextTag, CAPACITY);
    }

    /** @param capacity I/O pages mapped or held back at once, a power of two */
    public DmaMapper(Iommu iommu, PageTable table, int contextTag, int capacity) {
        if (capacity < 1 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("DMA mapper capacity must be a power of two; got " + capacity);
        }
        if (IOVA_BASE + ((long) capacity << MachineMemory.PAGE_SHIFT) > table.addressLimit()) {
            throw new IllegalArgumentException("the I/O page table of " + table.levels() + " levels cannot hold the DMA range");
        }
        this.iommu = iommu;
        this.table = table;
        this.contextTag = contextTag;
        this.deferred = iommu.mode() == InvalidationMode.DEFERRED;
        this.capacity = capacity;
        this.free = new long[capacity];
        this.held = new long[capacity];
        this.heldEpoch = new long[capacity];
        // Lowest address on top of the stack: the range in use stays small and its tables few.
        for (int i = 0; i < capacity; i++) {
            free[i] = IOVA_BASE + ((long) (capacity - 1 - i) << MachineMemory.PAGE_SHIFT);
        }
        freeCount = capacity;
    }

    /**
     * Makes the page of {@code ma} reachable for {@code access} (READ: the device reads memory,
     * WRITE: it writes) and returns the I/O address to give the device (same offset in the page);
     * a negative errno when the table refuses or the range is used up.
     */
    public long map(long ma, int access) {
        if (freeCount == 0) {
            reclaim();
            if (freeCount == 0) {
                // Every address is waiting for a flush: do it now rather than fail.
                iommu.flush();
                reclaim();
                if (freeCount == 0) {
                    return -Errno.ENOSPC;
                }
            }
        }
        long iova = free[--freeCount];
        iommu.mapping(contextTag, iova);
        int r = table.map(iova, ma & ~MachineMemory.PAGE_MASK, PageTable.SHIFT_4K, access & Translation.PERMISSIONS);
        if (r < 0) {
            free[freeCount++] = iova;
            return r;
        }
        mapped++;
        maps++;
        return iova | (ma & MachineMemory.PAGE_MASK);
    }

    /** Ends a transfer's use of the I/O page of {@code iova}: unmaps it, invalidating per the IOMMU's mode. */
    public int unmap(long iova) {
        long page = iova & ~MachineMemory.PAGE_MASK;
        if (page < IOVA_BASE || page >= IOVA_BASE + ((long) capacity << MachineMemory.PAGE_SHIFT)) {
            return -Errno.EINVAL;
        }
        int r = iommu.unmap(table, contextTag, page);
        if (r < 0) {
            return r;
        }
        mapped--;
        unmaps++;
        if (deferred && iommu.pendingUnmaps() > 0) {
            int slot = (int) (heldTail++ & (capacity - 1));
            held[slot] = page;
            heldEpoch[slot] = iommu.batches();
            reclaim();
        } else {
            free[freeCount++] = page;
        }
        return 0;
    }

    /** Frees the held-back addresses whose unmap a flush has invalidated since. */
    private void reclaim() {
        long flushes = iommu.batches();
        while (heldHead < heldTail && heldEpoch[(int) (heldHead & (capacity - 1))] < flushes) {
            free[freeCount++] = held[(int) (heldHead++ & (capacity - 1))];
        }
    }

    /** Maps a page for good at its machine address (device queues): never unmapped. */
    public long mapPermanently(long ma) {
        long page = ma & ~MachineMemory.PAGE_MASK;
        int r = table.map(page, page, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
        return r < 0 && r != -Errno.EEXIST ? r : ma;
    }

    public long maps() {
        return maps;
    }

    public long unmaps() {
        return unmaps;
    }

    /** Pages mapped for transfers now. */
    public int mappedPages() {
        return mapped;
    }

    /** I/O addresses unmapped and waiting for a deferred flush before they are used again. */
    public int heldBack() {
        return (int) (heldTail - heldHead);
    }
}
