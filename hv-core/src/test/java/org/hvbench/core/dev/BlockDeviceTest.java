package org.hvbench.core.dev;

import org.hvbench.core.iommu.IdentityDma;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.cpu.InterruptController;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The device on its own, driven by hand: register programming, command checks, one interrupt per batch. */
class BlockDeviceTest {
    private final MachineMemory memory = new MachineMemory(4L << 20);
    private final RamDisk disk = new RamDisk(1L << 20);
    private final BlockDevice device = new BlockDevice("d", 1, memory, disk, new IdentityDma(memory), CostProfile.load("none"));
    private final InterruptController irq = new InterruptController();
    private final long sq = 0x10000;
    private final long cq = 0x20000;
    private int produced;

    @AfterEach
    void free() {
        memory.close();
        disk.close();
    }

    private void enable() {
        device.connectInterrupt(IrqLine.of(irq, 5));
        assertEquals(0, device.mmioWrite(BlockDevice.REG_SQ_BASE, sq));
        assertEquals(0, device.mmioWrite(BlockDevice.REG_CQ_BASE, cq));
        assertEquals(0, device.mmioWrite(BlockDevice.REG_ENTRIES, 8));
        assertEquals(0, device.mmioWrite(BlockDevice.REG_CONTROL, 1));
    }

    private void command(int op, int segments, long sector, long address, int length) {
        long slot = MemoryQueue.slotAddress(sq, BlockCommand.BYTES, 8, produced);
        memory.putByte(slot + BlockCommand.OPCODE, (byte) op);
        memory.putByte(slot + BlockCommand.SEGMENT_COUNT, (byte) segments);
        memory.putInt(slot + BlockCommand.TAG, produced);
        memory.putLong(slot + BlockCommand.SECTOR, sector);
        memory.putLong(slot + BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_ADDRESS, address);
        memory.putInt(slot + BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_LENGTH, length);
        produced++;
        memory.putIntRelease(sq + MemoryQueue.PRODUCER_OFFSET, produced);
    }

    private int status(int index) {
        return memory.getInt(MemoryQueue.slotAddress(cq, BlockCommand.COMPLETION_BYTES, 8, index) + BlockCommand.COMPLETION_STATUS);
    }

    @Test
    void programmingIsChecked() {
        assertEquals(-Errno.EINVAL, device.mmioWrite(BlockDevice.REG_ENTRIES, 3));
        assertEquals(-Errno.EINVAL, device.mmioWrite(BlockDevice.REG_CONTROL, 1), "no queues yet");
        assertEquals(-Errno.EINVAL, device.mmioWrite(42, 0));
        assertEquals(0, device.doWork(), "disabled: nothing to do");
    }

    @Test
    void withoutADoorbellTheDeviceDoesNotLook() {
        enable();
        command(BlockCommand.OP_READ, 1, 0, 0x30000, 512);
        assertEquals(0, device.doWork());
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        assertEquals(1, device.doWork());
    }

    @Test
    void badCommandsCompleteWithTheirErrnoAndOneInterruptCoversTheBatch() {
        enable();
        memory.setMemory(0x30000, 4096, (byte) 7);
        command(BlockCommand.OP_WRITE, 1, 0, 0x30000, 4096);
        command(9, 1, 0, 0x30000, 512);
        command(BlockCommand.OP_WRITE, 0, 0, 0x30000, 512);
        command(BlockCommand.OP_WRITE, 12, 0, 0x30000, 512);
        command(BlockCommand.OP_WRITE, 1, 0, 0x30000, 100);
        command(BlockCommand.OP_WRITE, 1, disk.sectors() - 1, 0x30000, 1024);
        command(BlockCommand.OP_WRITE, 1, 8, 1L << 40, 512);
        command(BlockCommand.OP_FLUSH, 0, 0, 0, 0);
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        assertEquals(8, device.doWork());
        assertEquals(0, status(0));
        assertEquals(-Errno.EOPNOTSUPP, status(1));
        assertEquals(-Errno.EINVAL, status(2));
        assertEquals(-Errno.EINVAL, status(3));
        assertEquals(-Errno.EINVAL, status(4));
        assertEquals(-Errno.ENOSPC, status(5));
        assertEquals(-Errno.EFAULT, status(6));
        assertEquals(0, status(7));
        assertEquals(1, device.interrupts());
        assertTrue(irq.hasPending());
        byte[] sector8 = new byte[512];
        disk.peek(8 * 512, sector8, 0, 512);
        assertEquals(0, sector8[0], "the refused DMA wrote nothing");
    }

    @Test
    void aProducerFarAheadStopsTheDeviceUntilReset() {
        enable();
        memory.putIntRelease(sq + MemoryQueue.PRODUCER_OFFSET, 100);
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        assertEquals(0, device.doWork());
        assertTrue(device.failed());
        device.mmioWrite(BlockDevice.REG_CONTROL, 0);
        assertTrue(!device.failed());
    }
    /** A guest that keeps ringing a stopped device must not keep the device's thread busy. */
    @Test
    void aStoppedOrDisabledDeviceDropsItsDoorbell() {
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        assertTrue(device.hasWork(), "a doorbell is work until the device looks");
        assertEquals(0, device.doWork(), "disabled: nothing served");
        assertFalse(device.hasWork(), "a disabled device dropped the doorbell");
        enable();
        memory.putIntRelease(sq + MemoryQueue.PRODUCER_OFFSET, 100);
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        assertEquals(0, device.doWork());
        assertTrue(device.failed());
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        assertEquals(0, device.doWork(), "failed: nothing served");
        assertFalse(device.hasWork(), "a failed device dropped the doorbell");
    }
}
