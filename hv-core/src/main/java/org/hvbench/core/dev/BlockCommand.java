package org.hvbench.core.dev;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * Layout of the block device's queue entries (little-endian, as every off-heap structure here).
 *
 * <pre>
 * Submission entry, 256 bytes:
 * | offset | size | field                                                   |
 * |--------|------|---------------------------------------------------------|
 * | 0      | 1    | opcode: READ 0, WRITE 1, FLUSH 3 (the Xen blkif numbers)   |
 * | 1      | 1    | segment count, 1..11 (0 for FLUSH)                       |
 * | 4      | 4    | tag: the driver's id, echoed in the completion           |
 * | 8      | 8    | first sector (512-byte units)                            |
 * | 32+16i | 8    | segment i: DMA address                                   |
 * | 40+16i | 4    | segment i: length in bytes, a multiple of 512, 1..4096   |
 *
 * Completion entry, 16 bytes:
 * | 0      | 4    | tag                                                      |
 * | 4      | 4    | status: 0, or a negative errno                           |
 * | 8      | 4    | bytes transferred                                        |
 * </pre>
 *
 * The 11-segment limit is the Xen block protocol's ({@code BLKIF_MAX_SEGMENTS_PER_REQUEST}), so a
 * request is split the same way whichever placement carries it.
 */
public final class BlockCommand {
    public static final int OP_READ = 0;
    public static final int OP_WRITE = 1;
    public static final int OP_FLUSH = 3;
    public static final int MAX_SEGMENTS = 11;

    public static final int BYTES = 256;
    public static final int OPCODE = 0;
    public static final int SEGMENT_COUNT = 1;
    public static final int TAG = 4;
    public static final int SECTOR = 8;
    public static final int SEGMENTS = 32;
    public static final int SEGMENT_BYTES = 16;
    public static final int SEGMENT_ADDRESS = 0;
    public static final int SEGMENT_LENGTH = 8;

    public static final int COMPLETION_BYTES = 16;
    public static final int COMPLETION_TAG = 0;
    public static final int COMPLETION_STATUS = 4;
    public static final int COMPLETION_LENGTH = 8;

    private BlockCommand() {
    }

    public static int segmentOffset(int i) {
        return SEGMENTS + i * SEGMENT_BYTES;
    }

    public static boolean validOpcode(int op) {
        return op == OP_READ || op == OP_WRITE || op == OP_FLUSH;
    }

    /**
     * Checks the shape of a command a guest wrote for an emulated device, sitting in private memory
     * at {@code ma}: opcode, segment count (0 only for FLUSH), each segment whole sectors inside one
     * page, and the sector range inside a disk of {@code diskSectors}. Addresses are left to the caller.
     *
     * @return the number of segments, or {@code -EOPNOTSUPP}, {@code -EINVAL}, {@code -ENOSPC}
     */
    public static int check(MachineMemory memory, long ma, long diskSectors) {
        int op = memory.getByte(ma + OPCODE) & 0xFF;
        int segments = memory.getByte(ma + SEGMENT_COUNT) & 0xFF;
        if (!validOpcode(op)) {
            return -Errno.EOPNOTSUPP;
        }
        if (op == OP_FLUSH) {
            return segments == 0 ? 0 : -Errno.EINVAL;
        }
        if (segments < 1 || segments > MAX_SEGMENTS) {
            return -Errno.EINVAL;
        }
        long bytes = 0;
        for (int s = 0; s < segments; s++) {
            long seg = ma + segmentOffset(s);
            long address = memory.getLong(seg + SEGMENT_ADDRESS);
            int length = memory.getInt(seg + SEGMENT_LENGTH);
            if (length <= 0 || length > MachineMemory.PAGE_SIZE || (length & (BlockBacking.SECTOR_SIZE - 1)) != 0
                || (address & MachineMemory.PAGE_MASK) + length > MachineMemory.PAGE_SIZE) {
                return -Errno.EINVAL;
            }
            bytes += length;
        }
        long sector = memory.getLong(ma + SECTOR);
        if (sector < 0 || sector > diskSectors - (bytes >>> BlockBacking.SECTOR_SHIFT)) {
            return -Errno.ENOSPC;
        }
        return segments;
    }
}
