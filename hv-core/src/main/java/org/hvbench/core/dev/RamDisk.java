package org.hvbench.core.dev;

import java.nio.ByteBuffer;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.hvbench.core.mem.MachineMemory;

/**
 * A disk held in one off-heap region; DMA is a memory copy. The region is page-aligned, as a DMA
 * buffer is: an arbitrary {@code malloc} alignment would make copies split cache lines in some
 * runs and not others.
 */
public final class RamDisk implements BlockBacking {
    private final ByteBuffer allocation;
    private final UnsafeBuffer data;
    private final long bytes;

    /** @throws IllegalArgumentException naming {@code diskBytes} */
    public RamDisk(long bytes) {
        DiskSize.check(bytes);
        this.bytes = bytes;
        this.allocation = ByteBuffer.allocateDirect((int) bytes + MachineMemory.PAGE_SIZE);
        long address = BufferUtil.address(allocation);
        int offset = (int) (((address + MachineMemory.PAGE_MASK) & ~MachineMemory.PAGE_MASK) - address);
        this.data = new UnsafeBuffer(allocation, offset, (int) bytes);
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public int read(long offset, MachineMemory memory, long ma, int length) {
        memory.putBytes(ma, data, index(offset, length), length);
        return 0;
    }

    @Override
    public int write(long offset, MachineMemory memory, long ma, int length) {
        memory.getBytes(ma, data, index(offset, length), length);
        return 0;
    }

    @Override
    public int flush() {
        return 0;
    }

    @Override
    public void peek(long offset, byte[] dst, int dstIndex, int length) {
        data.getBytes(index(offset, length), dst, dstIndex, length);
    }

    private int index(long offset, int length) {
        if (offset < 0 || length < 0 || offset > bytes - length) {
            throw new IndexOutOfBoundsException("disk offset " + offset + " length " + length + " outside " + bytes + " bytes");
        }
        return (int) offset;
    }

    @Override
    public void close() {
        if (data.capacity() != 0) {
            data.wrap(new byte[0]);
            BufferUtil.free(allocation);
        }
    }
}
