package org.hvbench.core.mem;

import org.hvbench.core.Errno;

/**
 * A radix page table stored in machine frames. One format serves the CPU side (a domain's
 * guest-physical to machine map, as EPT and NPT do) and the IOMMU side (IOVA to machine); one walker,
 * {@link PageWalker}, walks both.
 *
 * <p>A table is one 4 KiB frame of 512 eight-byte entries. With {@code levels} levels the table covers
 * {@code 12 + 9 * levels} bits of address: 39 (3 levels), 48 (4) or 57 (5). Level 1 maps 4 KiB pages;
 * a leaf at level 2 maps a 2 MiB superpage and at level 3 a 1 GiB superpage.
 *
 * <pre>
 * Entry layout (EPT-like):
 * | bits  | field                                                        |
 * |-------|--------------------------------------------------------------|
 * | 0     | READ                                                         |
 * | 1     | WRITE                                                        |
 * | 7     | SUPERPAGE: this entry at level 2 or 3 is a leaf               |
 * | 12-51 | machine address of the next table, or of the page            |
 * </pre>
 *
 * An entry is present when READ or WRITE is set. Entries that point to tables carry READ|WRITE; the
 * leaf's bits are the permissions. Entries are published with release order and read by the walker
 * with acquire order, so a walker on another thread that sees a new entry also sees the zeroed table
 * behind it. Changing tables is single-writer: one owner (hypervisor, kernel or IOMMU driver) edits a
 * table; after {@link #unmap} the editor must invalidate the TLBs that may hold the page.
 */
public final class PageTable {
    public static final int READ = Translation.READ;
    public static final int WRITE = Translation.WRITE;
    public static final long SUPERPAGE = 1L << 7;
    public static final long ADDRESS_MASK = 0x000F_FFFF_FFFF_F000L;
    public static final int ENTRIES = 512;
    public static final int SHIFT_4K = 12;
    public static final int SHIFT_2M = 21;
    public static final int SHIFT_1G = 30;

    private final MachineMemory memory;
    private final FrameAllocator frames;
    private final int levels;
    private final int tableOwner;
    private final long rootMa;
    private int tableFrames;

    /**
     * @param levels 3, 4 or 5
     * @param tableOwner owner recorded for the frames that hold the tables (the hypervisor for a
     *     domain's map, the kernel's domain for a native page table)
     * @throws IllegalArgumentException for another level count
     * @throws IllegalStateException when no frame is free for the root
     */
    public PageTable(FrameAllocator frames, int levels, int tableOwner) {
        checkLevels(levels);
        this.memory = frames.memory();
        this.frames = frames;
        this.levels = levels;
        this.tableOwner = tableOwner;
        long root = frames.allocate(tableOwner);
        if (root < 0) {
            throw new IllegalStateException("memory: no free frame for a page-table root; give the machine more memory");
        }
        this.rootMa = root << MachineMemory.PAGE_SHIFT;
        this.tableFrames = 1;
    }

    public static void checkLevels(int levels) {
        if (levels < 3 || levels > 5) {
            throw new IllegalArgumentException("pageTableLevels: " + levels + " is not allowed; use 3, 4 or 5");
        }
    }

    public long rootMa() {
        return rootMa;
    }

    public int levels() {
        return levels;
    }

    /** Frames this table uses for itself, root included. */
    public int tableFrames() {
        return tableFrames;
    }

    /** Size in bytes of the address range this table covers. */
    public long addressLimit() {
        return 1L << (SHIFT_4K + 9 * levels);
    }

    /**
     * Maps the page at {@code va} of size {@code 1 << pageShift} to {@code ma} with {@code permissions}.
     *
     * @return 0; {@code -EINVAL} for a misaligned or out-of-range address, a bad page shift or no
     *     permission; {@code -EEXIST} when the range is already mapped (fully or by a superpage on
     *     the way down); {@code -ENOMEM} when no frame is left for an intermediate table
     */
    public int map(long va, long ma, int pageShift, int permissions) {
        if (pageShift != SHIFT_4K && pageShift != SHIFT_2M && pageShift != SHIFT_1G) {
            return -Errno.EINVAL;
        }
        long pageMask = (1L << pageShift) - 1;
        if ((va & pageMask) != 0 || (ma & pageMask) != 0 || va < 0 || va >= addressLimit()
            || !memory.contains(ma, 1L << pageShift) || (permissions & ~Translation.PERMISSIONS) != 0
            || permissions == 0) {
            return -Errno.EINVAL;
        }
        int leafLevel = (pageShift - SHIFT_4K) / 9 + 1;
        long tableMa = rootMa;
        for (int level = levels; level > leafLevel; level--) {
            long entryMa = tableMa + 8L * index(va, level);
            long entry = memory.getLongAcquire(entryMa);
            if (!present(entry)) {
                long mfn = frames.allocate(tableOwner);
                if (mfn < 0) {
                    return -Errno.ENOMEM;
                }
                tableFrames++;
                entry = (mfn << MachineMemory.PAGE_SHIFT) | READ | WRITE;
                memory.putLongRelease(entryMa, entry);
            } else if ((entry & SUPERPAGE) != 0) {
                return -Errno.EEXIST;
            }
            tableMa = entry & ADDRESS_MASK;
        }
        long leafMa = tableMa + 8L * index(va, leafLevel);
        if (present(memory.getLongAcquire(leafMa))) {
            return -Errno.EEXIST;
        }
        long leaf = (ma & ADDRESS_MASK) | permissions | (leafLevel > 1 ? SUPERPAGE : 0);
        memory.putLongRelease(leafMa, leaf);
        return 0;
    }

    /**
     * Removes the mapping that covers {@code va}.
     *
     * @return the page shift of the page removed (12, 21 or 30), or {@code -ENOENT} when nothing maps
     *     {@code va}, or {@code -EINVAL} when {@code va} is outside the table
     */
    public int unmap(long va) {
        if (va < 0 || va >= addressLimit()) {
            return -Errno.EINVAL;
        }
        long tableMa = rootMa;
        for (int level = levels; level >= 1; level--) {
            long entryMa = tableMa + 8L * index(va, level);
            long entry = memory.getLongAcquire(entryMa);
            if (!present(entry)) {
                return -Errno.ENOENT;
            }
            if (level == 1 || (entry & SUPERPAGE) != 0) {
                memory.putLongRelease(entryMa, 0L);
                return SHIFT_4K + 9 * (level - 1);
            }
            tableMa = entry & ADDRESS_MASK;
        }
        return -Errno.ENOENT;
    }

    /** The translation of {@code va}, or {@code -EFAULT}: the walk, without a TLB. */
    public long translate(long va) {
        return PageWalker.walk(memory, rootMa, levels, va);
    }

    /** Frees every table frame. The table must not be used afterwards. */
    public void destroy() {
        freeTable(rootMa, levels);
        tableFrames = 0;
    }

    private void freeTable(long tableMa, int level) {
        if (level > 1) {
            for (int i = 0; i < ENTRIES; i++) {
                long entry = memory.getLong(tableMa + 8L * i);
                if (present(entry) && (entry & SUPERPAGE) == 0) {
                    freeTable(entry & ADDRESS_MASK, level - 1);
                }
            }
        }
        frames.free(tableMa >>> MachineMemory.PAGE_SHIFT, tableOwner);
    }

    static boolean present(long entry) {
        return (entry & Translation.PERMISSIONS) != 0;
    }

    static int index(long va, int level) {
        return (int) (va >>> (SHIFT_4K + 9 * (level - 1))) & (ENTRIES - 1);
    }
}
