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

    /** What {@link #visit} reports: each frame that holds a table, and each present leaf. */
    public interface Visitor {
        /** A frame holding one table of the tree (the root first). */
        default void table(long mfn) {
        }

        /** A present leaf: the page at {@code va} and its {@link Translation}. */
        void leaf(long va, long translation);
    }

    /**
     * Visits every table frame and every present leaf of the table at {@code rootMa}, in address
     * order: for audits of the hypervisor's tables (as Xen audits its p2m), never on a data path.
     */
    public static void visit(MachineMemory memory, long rootMa, int levels, Visitor visitor) {
        visitTable(memory, rootMa, levels, 0, 0, Long.MAX_VALUE, visitor);
    }

    /** As {@link #visit}, but only the tables and leaves that cover addresses in {@code [from, to)}. */
    public static void visit(MachineMemory memory, long rootMa, int levels, long from, long to, Visitor visitor) {
        visitTable(memory, rootMa, levels, 0, from, to, visitor);
    }

    private static void visitTable(MachineMemory memory, long tableMa, int level, long base, long from, long to,
                                   Visitor visitor) {
        visitor.table(tableMa >>> MachineMemory.PAGE_SHIFT);
        int shift = PageTable.SHIFT_4K + 9 * (level - 1);
        for (int i = 0; i < PageTable.ENTRIES; i++) {
            long va = base | (long) i << shift;
            if (va + (1L << shift) <= from || va >= to) {
                continue;
            }
            long entry = memory.getLongAcquire(tableMa + 8L * i);
            if (!PageTable.present(entry)) {
                continue;
            }
            if (level == 1 || (entry & PageTable.SUPERPAGE) != 0) {
                visitor.leaf(va, Translation.of(entry & PageTable.ADDRESS_MASK, shift, (int) entry & Translation.PERMISSIONS));
            } else {
                visitTable(memory, entry & PageTable.ADDRESS_MASK, level - 1, va, from, to, visitor);
            }
        }
    }

    /** Number of table entries a walk that ends in a page of {@code pageShift} reads. */
    public static int levelsRead(int levels, int pageShift) {
        return levels - (pageShift - PageTable.SHIFT_4K) / 9;
    }
}
