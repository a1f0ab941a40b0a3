package org.hvbench.stress;

import java.util.concurrent.atomic.AtomicLong;

import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.dev.RamDisk;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * One machine memory for all the state objects of a jcstress run: jcstress makes thousands of
 * states at a time, far too many for a region each. Each state takes the next page, zeroed; pages
 * are reused round-robin, and there are more of them than states alive at once. The first frames
 * are kept for an I/O page table ({@link IoTable}).
 */
final class StressMemory {
    // jcstress trims a fork's heap (and so its direct memory) to 256 MiB and keeps up to 10,240 states alive.
    static final MachineMemory MEMORY = new MachineMemory(64L << 20);
    static final Translator IDENTITY = (address, access) -> address;
    /** The disk of the devices in the tests; they only flush it, which moves no data. */
    static final RamDisk DISK = new RamDisk(1L << 20);
    static final CostProfile PROFILE = CostProfile.load("none");
    /** Frames below this hold the {@link IoTable}; states get the pages above. */
    private static final int IO_FRAMES = 64;
    private static final AtomicLong NEXT = new AtomicLong();

    private StressMemory() {
    }

    /** A zeroed page for one state object. */
    static long page() {
        long page = (NEXT.getAndIncrement() % (MEMORY.frames() - IO_FRAMES) + IO_FRAMES) << MachineMemory.PAGE_SHIFT;
        MEMORY.setMemory(page, MachineMemory.PAGE_SIZE, (byte) 0);
        return page;
    }

    /**
     * One I/O page table for the IOMMU tests, in the reserved frames, built on first use. Each state
     * maps a page of IOVA space of its own (the next of {@link #SLOTS}, more than states alive at
     * once) to {@link #TARGET}, and may unmap it. The tables above the leaves are all built here, so
     * states on different threads only ever write their own leaf entry.
     */
    static final class IoTable {
        static final int SLOTS = 16384;
        static final PageTable TABLE;
        /** The page every slot maps. */
        static final long TARGET;
        private static final AtomicLong NEXT_SLOT = new AtomicLong();

        static {
            FrameAllocator frames = new FrameAllocator(MEMORY);
            TARGET = frames.allocate(FrameAllocator.OWNER_IO) << MachineMemory.PAGE_SHIFT;
            TABLE = new PageTable(frames, 3, FrameAllocator.OWNER_HYPERVISOR);
            for (int slot = 0; slot < SLOTS; slot++) {
                map((long) slot << MachineMemory.PAGE_SHIFT);
                TABLE.unmap((long) slot << MachineMemory.PAGE_SHIFT);
            }
            // A fresh allocator hands out frames from 0 up: the table must stay below the states' pages.
            if (frames.frames() - frames.freeFrames() > IO_FRAMES) {
                throw new IllegalStateException("the I/O page table needs more than " + IO_FRAMES + " frames");
            }
        }

        private IoTable() {
        }

        /** The IOVA of the next slot, mapped to {@link #TARGET} for reads and writes. */
        static long mappedIova() {
            long iova = (NEXT_SLOT.getAndIncrement() % SLOTS) << MachineMemory.PAGE_SHIFT;
            TABLE.unmap(iova); // left mapped by a state that never ran
            map(iova);
            return iova;
        }

        private static void map(long iova) {
            int r = TABLE.map(iova, TARGET, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
            if (r != 0) {
                throw new IllegalStateException("I/O page table: mapping 0x" + Long.toHexString(iova) + " failed: " + r);
            }
        }
    }
}
