package org.hvbench.core.dev;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * A channel command word (CCW), as System/360 channel programs chain them: the guest writes a chain
 * in its memory and starts it with one start-I/O; each command names a transfer, and the
 * command-chaining flag says another follows; a transfer-in-channel (TIC) continues the chain at
 * another address.
 *
 * <pre>
 * | offset | size | field                                                          |
 * |--------|------|----------------------------------------------------------------|
 * | 0      | 1    | command: WRITE 0x01, READ 0x02, CONTROL 0x03, TIC 0x08 (S/360's codes) |
 * | 1      | 1    | flags: CC 0x40 (command chaining: another command follows)     |
 * | 2      | 2    | count: bytes, whole sectors, 512 to 4096, inside one page; 0 for CONTROL |
 * | 4      | 4    | sector on the disk (512-byte units)                            |
 * | 8      | 8    | data address; for a TIC the address of the next command        |
 *
 * Channel status, 16 bytes, 16-byte aligned (written when the chain ends):
 * | 0      | 4    | data and control commands completed                             |
 * | 4      | 4    | status: 0, or the negative errno of the command that stopped it |
 * | 8      | 4    | index of that command (data and control commands counted, TICs not) |
 * | 12     | 4    | reserved, 0                                                     |
 * </pre>
 *
 * CONTROL here orders the disk to make earlier writes durable (the flush of the block protocols).
 * Commands are 16-byte aligned, so none straddles a page. A chain is at most {@value #MAX_CHAIN}
 * commands, TICs included ({@code -E2BIG} past that); a TIC back to a command already fetched is a
 * loop ({@code -ELOOP}).
 */
public final class ChannelCommand {
    public static final int BYTES = 16;
    public static final int COMMAND = 0;
    public static final int FLAGS = 1;
    public static final int COUNT = 2;
    public static final int SECTOR = 4;
    public static final int ADDRESS = 8;
    public static final int WRITE = 0x01;
    public static final int READ = 0x02;
    public static final int CONTROL = 0x03;
    public static final int TIC = 0x08;
    public static final int CC = 0x40;
    public static final int MAX_CHAIN = 64;

    public static final int STATUS_BYTES = 16;
    public static final int STATUS_DONE = 0;
    public static final int STATUS_RESULT = 4;
    public static final int STATUS_FAILED_AT = 8;

    private ChannelCommand() {
    }

    /**
     * Checks one command that is not a TIC: command known, a transfer's count whole sectors in the
     * page of {@code address}, its sectors inside a disk of {@code diskSectors}; CONTROL moves nothing.
     *
     * @return 0, {@code -EOPNOTSUPP}, {@code -EINVAL} or {@code -ENOSPC}
     */
    public static int check(int command, int count, long sector, long address, long diskSectors) {
        if (command == CONTROL) {
            return count == 0 ? 0 : -Errno.EINVAL;
        }
        if (command != READ && command != WRITE) {
            return -Errno.EOPNOTSUPP;
        }
        if (count == 0 || count > MachineMemory.PAGE_SIZE || (count & (BlockBacking.SECTOR_SIZE - 1)) != 0
            || (address & MachineMemory.PAGE_MASK) + count > MachineMemory.PAGE_SIZE) {
            return -Errno.EINVAL;
        }
        if (sector > diskSectors - (count >>> BlockBacking.SECTOR_SHIFT)) {
            return -Errno.ENOSPC;
        }
        return 0;
    }

    /** {@link #check(int, int, long, long, long)} of the command at {@code ma} (a private copy). */
    public static int check(MachineMemory memory, long ma, long diskSectors) {
        return check(memory.getByte(ma + COMMAND) & 0xFF, memory.getShort(ma + COUNT) & 0xFFFF,
            Integer.toUnsignedLong(memory.getInt(ma + SECTOR)), memory.getLong(ma + ADDRESS), diskSectors);
    }
}
