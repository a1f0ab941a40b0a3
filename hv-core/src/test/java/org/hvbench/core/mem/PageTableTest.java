package org.hvbench.core.mem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PageTableTest {
    private final MachineMemory memory = new MachineMemory(64L << 20);
    private final FrameAllocator frames = new FrameAllocator(memory);
    private static final int RW = Translation.READ | Translation.WRITE;

    @AfterEach
    void free() {
        memory.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 4, 5})
    void fourKilobytePagesTranslateAtEveryLevelCount(int levels) {
        PageTable table = new PageTable(frames, levels, 7);
        long top = table.addressLimit() - 4096;
        long[] vas = {0, 4096, 0x12345000L, top};
        long ma = 0x100000;
        for (long va : vas) {
            assertEquals(0, table.map(va, ma, PageTable.SHIFT_4K, RW), "map 0x" + Long.toHexString(va));
            long t = table.translate(va + 123);
            assertEquals(ma + 123, Translation.machineAddress(t, va + 123));
            assertEquals(PageTable.SHIFT_4K, Translation.pageShift(t));
            ma += 4096;
        }
        assertEquals(1L << (12 + 9 * levels), table.addressLimit());
        assertEquals(-Errno.EFAULT, table.translate(table.addressLimit()), "beyond the table's reach");
        assertEquals(-Errno.EFAULT, table.translate(-4096), "negative address");
        assertEquals(-Errno.EFAULT, table.translate(8192), "unmapped page");
        // One root plus a chain per far-apart address; the top page shares nothing with the others' lower tables.
        assertTrue(table.tableFrames() >= levels);
    }

    @Test
    void walkReadsOneEntryPerLevelAboveTheLeaf() {
        assertEquals(4, PageWalker.levelsRead(4, PageTable.SHIFT_4K));
        assertEquals(3, PageWalker.levelsRead(4, PageTable.SHIFT_2M));
        assertEquals(2, PageWalker.levelsRead(4, PageTable.SHIFT_1G));
        assertEquals(5, PageWalker.levelsRead(5, PageTable.SHIFT_4K));
    }

    @Test
    void twoMegabyteSuperpageMapsEveryAddressInside() {
        PageTable table = new PageTable(frames, 4, 7);
        long va = 3L << 21;
        long ma = 2L << 21;
        assertEquals(0, table.map(va, ma, PageTable.SHIFT_2M, Translation.READ));
        for (long off : new long[] {0, 4096, (1 << 21) - 1}) {
            long t = table.translate(va + off);
            assertEquals(ma + off, Translation.machineAddress(t, va + off));
            assertEquals(PageTable.SHIFT_2M, Translation.pageShift(t));
            assertTrue(Translation.allows(t, Translation.READ));
            assertTrue(!Translation.allows(t, Translation.WRITE), "read-only superpage");
        }
        assertEquals(-Errno.EFAULT, table.translate(va + (1 << 21)), "next 2 MiB not mapped");
        assertEquals(-Errno.EEXIST, table.map(va + 4096, 0x5000, PageTable.SHIFT_4K, RW), "inside a superpage");
        assertEquals(PageTable.SHIFT_2M, table.unmap(va + 12345), "unmap removes the whole superpage");
        assertEquals(-Errno.EFAULT, table.translate(va));
        assertEquals(0, table.map(va + 4096, 0x5000, PageTable.SHIFT_4K, RW), "4 KiB page where the superpage was");
    }

    @Test
    void oneGigabyteSuperpage() {
        MachineMemory big = new MachineMemory(1L << 30);
        try {
            FrameAllocator f = new FrameAllocator(big);
            PageTable table = new PageTable(f, 4, 7);
            long va = 5L << 30;
            assertEquals(0, table.map(va, 0, PageTable.SHIFT_1G, RW));
            long t = table.translate(va + 0x3456789L);
            assertEquals(0x3456789L, Translation.machineAddress(t, va + 0x3456789L));
            assertEquals(PageTable.SHIFT_1G, Translation.pageShift(t));
            assertEquals(PageTable.SHIFT_1G, table.unmap(va));
        } finally {
            big.close();
        }
    }

    @Test
    void badMappingsAreRefused() {
        PageTable table = new PageTable(frames, 4, 7);
        assertEquals(-Errno.EINVAL, table.map(4097, 0, PageTable.SHIFT_4K, RW), "misaligned virtual");
        assertEquals(-Errno.EINVAL, table.map(4096, 17, PageTable.SHIFT_4K, RW), "misaligned machine");
        assertEquals(-Errno.EINVAL, table.map(1L << 21, 4096, PageTable.SHIFT_2M, RW), "machine not 2 MiB aligned");
        assertEquals(-Errno.EINVAL, table.map(0, 0, 13, RW), "no such page size");
        assertEquals(-Errno.EINVAL, table.map(0, 0, PageTable.SHIFT_4K, 0), "no permission");
        assertEquals(-Errno.EINVAL, table.map(0, 1L << 40, PageTable.SHIFT_4K, RW), "outside machine memory");
        assertEquals(-Errno.EINVAL, table.map(table.addressLimit(), 0, PageTable.SHIFT_4K, RW), "beyond the table");
        assertEquals(0, table.map(0, 0, PageTable.SHIFT_4K, RW));
        assertEquals(-Errno.EEXIST, table.map(0, 4096, PageTable.SHIFT_4K, RW), "already mapped");
        assertEquals(-Errno.EEXIST, table.map(0, 0, PageTable.SHIFT_2M, RW), "a 4 KiB page lies under it: tables, not a leaf");
        assertEquals(-Errno.ENOENT, table.unmap(1L << 30), "nothing to unmap");
        assertThrows(IllegalArgumentException.class, () -> new PageTable(frames, 6, 7));
    }

    @Test
    void tableFramesBelongToTheirOwnerAndAreFreedOnDestroy() {
        int free = frames.freeFrames();
        PageTable table = new PageTable(frames, 4, 9);
        for (int i = 0; i < 100; i++) {
            assertEquals(0, table.map((long) i << 30, 0, PageTable.SHIFT_4K, RW));
        }
        assertEquals(table.tableFrames(), frames.countOwnedBy(9));
        table.destroy();
        assertEquals(free, frames.freeFrames());
    }

    @Test
    void walkWithoutMemoryForATableFailsCleanly() {
        MachineMemory small = new MachineMemory(1L << 20);
        try {
            FrameAllocator f = new FrameAllocator(small);
            PageTable table = new PageTable(f, 4, 7);
            while (f.freeFrames() > 0) {
                f.allocate(1);
            }
            assertEquals(-Errno.ENOMEM, table.map(1L << 39, 0, PageTable.SHIFT_4K, RW));
        } finally {
            small.close();
        }
    }
}
