package org.hvbench.core.mem;

import org.hvbench.core.Errno;

/**
 * The one page walker: reads a {@link PageTable} from machine memory, level by level, for the CPU's
 * TLB misses and the IOMMU's IOTLB misses alike. Stateless and allocation-free.
 */
public final class PageWalker {
    private PageWalker() {
    }

    /**
     * Walks the table at {@code rootMa} for {@code va}.
     *
     * @return the {@link Translation} of the page that maps {@code va}, or {@code -EFAULT} when
     *     {@code va} is outside the table or unmapped
     */
    public static long walk(MachineMemory memory, long rootMa, int levels, long va) {
        if (va < 0 || va >= 1L << (PageTable.SHIFT_4K + 9 * levels)) {
            return -Errno.EFAULT;
        }
        long tableMa = rootMa;
        for (int level = levels; level >= 1; level--) {
            // Acquire pairs with the release in PageTable.map: a new table is seen zeroed.
            long entry = memory.getLongAcquire(tableMa + 8L * PageTable.index(va, level));
            if (!PageTable.present(entry)) {
                return -Errno.EFAULT;
            }
            if (level == 1 || (entry & PageTable.SUPERPAGE) != 0) {
                int shift = PageTable.SHIFT_4K + 9 * (level - 1);
                return Translation.of(entry & PageTable.ADDRESS_MASK, shift, (int) entry & Translation.PERMISSIONS);
            }
            tableMa = entry & PageTable.ADDRESS_MASK;
        }
        return -Errno.EFAULT;
    }

    /** Number of table entries a walk that ends in a page of {@code pageShift} reads. */
    public static int levelsRead(int levels, int pageShift) {
        return levels - (pageShift - PageTable.SHIFT_4K) / 9;
    }
}
