package org.hvbench.core.iommu;

import org.agrona.collections.Long2LongHashMap;
import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/**
 * A driver's DMA mapping for a device whose context has its own I/O page table (Linux's
 * {@code dma_map_page} / {@code dma_unmap_page} with an IOMMU): before the device may touch a page,
 * the driver maps it, with the access the transfer needs; after the transfer it unmaps it, which
 * invalidates per the IOMMU's mode. The I/O address of a page is its machine address (an identity
 * layout of the table), so a page mapped by two transfers at once is mapped once and counted.
 * The counts live in an Agrona primitive map: no boxing, no allocation once warm.
 */
public final class DmaMapper {
    private final Iommu iommu;
    private final PageTable table;
    private final int contextTag;
    private final Long2LongHashMap uses = new Long2LongHashMap(256, 0.5f, 0);
    private long maps;
    private long unmaps;

    public DmaMapper(Iommu iommu, PageTable table, int contextTag) {
        this.iommu = iommu;
        this.table = table;
        this.contextTag = contextTag;
    }

    /**
     * Makes the page of {@code ma} reachable for {@code access} (READ: the device reads memory,
     * WRITE: it writes) and returns the I/O address to give the device; a negative errno when the
     * table refuses.
     */
    public long map(long ma, int access) {
        long page = ma & ~MachineMemory.PAGE_MASK;
        long count = uses.get(page);
        long held = count >>> 32;
        int perms = (int) (count & 3);
        int wanted = perms | access;
        if (held > 0 && wanted != perms) {
            // A second transfer needs more access: remap the page with both.
            iommu.unmap(table, contextTag, page);
            held = 0;
        }
        if (held == 0) {
            iommu.mapping(contextTag, page);
            int r = table.map(page, page, PageTable.SHIFT_4K, wanted & Translation.PERMISSIONS);
            if (r < 0) {
                return r;
            }
            maps++;
        }
        uses.put(page, (held + 1) << 32 | wanted);
        return ma;
    }

    /** Ends one transfer's use of the page of {@code iova}; the last one unmaps it. */
    public int unmap(long iova) {
        long page = iova & ~MachineMemory.PAGE_MASK;
        long count = uses.get(page);
        long held = count >>> 32;
        if (held == 0) {
            return -Errno.EINVAL;
        }
        if (held == 1) {
            uses.remove(page);
            unmaps++;
            int r = iommu.unmap(table, contextTag, page);
            return r < 0 ? r : 0;
        }
        uses.put(page, (held - 1) << 32 | (count & 3));
        return 0;
    }

    /** Maps a page for good (device queues): never counted, never unmapped. */
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
        return uses.size();
    }
}
