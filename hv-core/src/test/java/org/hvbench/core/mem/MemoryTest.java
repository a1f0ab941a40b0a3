package org.hvbench.core.mem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;

import org.hvbench.core.Errno;
import org.junit.jupiter.api.Test;

class MemoryTest {
    @Test
    void sizeMustBeWholeFramesWithinLimits() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MachineMemory(5000L << 10 | 1));
        assertTrue(e.getMessage().startsWith("memory: "), e.getMessage());
        assertTrue(e.getMessage().contains("multiple of 4096"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MachineMemory(4096));
        assertThrows(IllegalArgumentException.class, () -> new MachineMemory(2L << 30));
    }

    @Test
    void accessesOutsideMemoryThrowEvenWhenTheLongWouldWrapToAValidInt() {
        try (MachineMemory m = new MachineMemory(1L << 20)) {
            assertThrows(IndexOutOfBoundsException.class, () -> m.getLong((1L << 32) + 8));
            assertThrows(IndexOutOfBoundsException.class, () -> m.putInt((1L << 20) - 2, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> m.getByte(-1));
            m.putLong((1L << 20) - 8, 42);
            assertEquals(42, m.getLong((1L << 20) - 8));
        }
    }

    @Test
    void aClosedMemoryFailsInsteadOfTouchingFreedMemory() {
        MachineMemory m = new MachineMemory(1L << 20);
        m.close();
        assertThrows(IndexOutOfBoundsException.class, () -> m.getLong(0));
        m.close();
    }

    @Test
    void allocatedFramesAreZeroedOwnedAndDistinct() {
        try (MachineMemory m = new MachineMemory(1L << 20)) {
            FrameAllocator f = new FrameAllocator(m);
            m.setMemory(0, (int) m.bytes(), (byte) 0x5a);
            Set<Long> seen = new HashSet<>();
            for (int i = 0; i < 256; i++) {
                long mfn = f.allocate(3);
                assertTrue(mfn >= 0);
                assertTrue(seen.add(mfn));
                assertEquals(3, f.owner(mfn));
                assertEquals(0, m.getLong((mfn << 12) + 8 * (i % 512)), "scrubbed");
            }
            assertEquals(-Errno.ENOMEM, f.allocate(3));
            assertEquals(-Errno.EPERM, f.free(7, 4), "not the owner");
            assertEquals(0, f.free(7, 3));
            assertEquals(FrameAllocator.OWNER_FREE, f.owner(7));
            assertEquals(-Errno.EPERM, f.free(7, 3), "already free");
            assertEquals(-Errno.EINVAL, f.owner(1 << 20));
        }
    }

    @Test
    void contiguousRunsAreAligned() {
        try (MachineMemory m = new MachineMemory(4L << 20)) {
            FrameAllocator f = new FrameAllocator(m);
            f.allocate(1);
            long first = f.allocateContiguous(512, 512, 2);
            assertEquals(0, first % 512);
            assertNotEquals(0, first, "frame 0 is taken");
            for (int i = 0; i < 512; i++) {
                assertEquals(2, f.owner(first + i));
            }
            assertEquals(-Errno.ENOMEM, f.allocateContiguous(2048, 1, 2));
        }
    }

    @Test
    void frameChecksumSeesOneChangedByte() {
        try (MachineMemory m = new MachineMemory(1L << 20)) {
            long before = m.frameChecksum(3);
            m.putByte(3 * 4096 + 4095, (byte) 1);
            assertNotEquals(before, m.frameChecksum(3));
        }
    }
}
