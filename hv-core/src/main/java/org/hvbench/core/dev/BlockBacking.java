package org.hvbench.core.dev;

import org.hvbench.core.mem.MachineMemory;

/** Where a block device keeps its bytes: a RAM disk or a real file. Sectors are 512 bytes. */
public interface BlockBacking extends AutoCloseable {
    int SECTOR_SIZE = 512;
    int SECTOR_SHIFT = 9;

    /** Capacity in bytes, a multiple of {@link #SECTOR_SIZE}. */
    long bytes();

    default long sectors() {
        return bytes() >>> SECTOR_SHIFT;
    }

    /** Copies {@code length} bytes at {@code offset} of the disk into machine memory at {@code ma}; 0 or -EIO. */
    int read(long offset, MachineMemory memory, long ma, int length);

    /** Copies {@code length} bytes of machine memory at {@code ma} to {@code offset} of the disk; 0 or -EIO. */
    int write(long offset, MachineMemory memory, long ma, int length);

    /** Makes every completed write durable; 0 or -EIO. */
    int flush();

    /** Reads disk bytes into a heap array: for tests and tools, not the data path. */
    void peek(long offset, byte[] dst, int dstIndex, int length);

    @Override
    void close();
}
