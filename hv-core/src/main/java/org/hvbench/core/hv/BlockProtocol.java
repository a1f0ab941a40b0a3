package org.hvbench.core.hv;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * The Xen block protocol's request and response, as a paravirtual guest hands them to the hypervisor
 * (and, with grant references, as a front end hands them to a back end). Little-endian, the x86_64
 * layout of {@code xen/include/public/io/blkif.h}.
 *
 * <pre>
 * Request, 112 bytes:
 * | offset | size | field                                                             |
 * |--------|------|-------------------------------------------------------------------|
 * | 0      | 1    | operation: READ 0, WRITE 1, FLUSH 3                                 |
 * | 1      | 1    | nr_segments: 1..11 (0 for FLUSH)                                   |
 * | 2      | 2    | handle (virtual device)                                           |
 * | 8      | 8    | id, echoed in the response                                        |
 * | 16     | 8    | sector_number (512-byte units)                                    |
 * | 24+8i  | 4    | segment i: frame reference (a gfn to the hypervisor; a grant       |
 * |        |      |   reference to a back end)                                        |
 * | 28+8i  | 1    | segment i: first_sect, 0..7 within the page                       |
 * | 29+8i  | 1    | segment i: last_sect, first_sect..7                               |
 *
 * Response, 16 bytes:
 * | 0      | 8    | id                                                                |
 * | 8      | 1    | operation                                                         |
 * | 10     | 2    | status: 0, or a negative errno                                    |
 * </pre>
 */
public final class BlockProtocol {
    public static final int OP_READ = 0;
    public static final int OP_WRITE = 1;
    public static final int OP_FLUSH = 3;
    public static final int MAX_SEGMENTS = 11;
    public static final int SECTORS_PER_PAGE = 8;

    public static final int REQUEST_BYTES = 112;
    public static final int OPERATION = 0;
    public static final int NR_SEGMENTS = 1;
    public static final int HANDLE = 2;
    public static final int ID = 8;
    public static final int SECTOR = 16;
    public static final int SEGMENTS = 24;
    public static final int SEGMENT_BYTES = 8;
    public static final int SEGMENT_REF = 0;
    public static final int SEGMENT_FIRST_SECT = 4;
    public static final int SEGMENT_LAST_SECT = 5;

    public static final int RESPONSE_BYTES = 16;
    public static final int RESPONSE_ID = 0;
    public static final int RESPONSE_OPERATION = 8;
    public static final int RESPONSE_STATUS = 10;

    private BlockProtocol() {
    }

    public static int segmentOffset(int i) {
        return SEGMENTS + i * SEGMENT_BYTES;
    }

    /**
     * Checks the shape of a request that sits in private memory at {@code ma}: operation, segment
     * count (0 only for FLUSH), each segment's sectors within its page, and the sector range inside a
     * disk of {@code diskSectors}. Frame references are left to the caller.
     *
     * @return the number of segments, or {@code -EOPNOTSUPP}, {@code -EINVAL}, {@code -ENOSPC}
     */
    public static int check(MachineMemory memory, long ma, long diskSectors) {
        int op = memory.getByte(ma + OPERATION) & 0xFF;
        int segments = memory.getByte(ma + NR_SEGMENTS) & 0xFF;
        if (op != OP_READ && op != OP_WRITE && op != OP_FLUSH) {
            return -Errno.EOPNOTSUPP;
        }
        if (op == OP_FLUSH) {
            return segments == 0 ? 0 : -Errno.EINVAL;
        }
        if (segments < 1 || segments > MAX_SEGMENTS) {
            return -Errno.EINVAL;
        }
        long sectors = 0;
        for (int s = 0; s < segments; s++) {
            long seg = ma + segmentOffset(s);
            int first = memory.getByte(seg + SEGMENT_FIRST_SECT) & 0xFF;
            int last = memory.getByte(seg + SEGMENT_LAST_SECT) & 0xFF;
            if (first > last || last >= SECTORS_PER_PAGE) {
                return -Errno.EINVAL;
            }
            sectors += last - first + 1;
        }
        long sector = memory.getLong(ma + SECTOR);
        if (sector < 0 || sector > diskSectors - sectors) {
            return -Errno.ENOSPC;
        }
        return segments;
    }
}
