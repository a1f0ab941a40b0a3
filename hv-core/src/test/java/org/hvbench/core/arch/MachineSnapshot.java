package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.hvbench.core.dev.Machine;
import org.hvbench.core.mem.FrameAllocator;

/**
 * Checksums of every machine frame held by a domain other than the one under test, and of the disk
 * outside that domain's own extent: what an isolation test compares before and after a hostile
 * guest's turn.
 */
final class MachineSnapshot {
    private final long[] frameSums;
    private final int[] owners;
    private final long diskSum;
    private final long exceptFrom;
    private final long exceptTo;

    private MachineSnapshot(Machine machine, int[] exceptOwners, long exceptFrom, long exceptTo) {
        this.exceptFrom = exceptFrom;
        this.exceptTo = exceptTo;
        FrameAllocator frames = machine.frames();
        frameSums = new long[frames.frames()];
        owners = new int[frames.frames()];
        for (int mfn = 0; mfn < frames.frames(); mfn++) {
            owners[mfn] = frames.owner(mfn);
            boolean domainFrame = owners[mfn] >= 0 && owners[mfn] < FrameAllocator.OWNER_IO;
            frameSums[mfn] = domainFrame && !excepted(exceptOwners, owners[mfn]) ? machine.memory().frameChecksum(mfn) : 0;
        }
        diskSum = diskChecksum(machine, exceptFrom, exceptTo);
    }

    private static boolean excepted(int[] owners, int owner) {
        for (int o : owners) {
            if (o == owner) {
                return true;
            }
        }
        return false;
    }

    /** Every frame of every domain but {@code exceptOwner}, and the whole disk. */
    static MachineSnapshot of(Machine machine, int exceptOwner) {
        return new MachineSnapshot(machine, new int[] {exceptOwner}, 0, 0);
    }

    /** As {@link #of(Machine, int)}, but disk bytes {@code [exceptFrom, exceptTo)} (the domain's own extent) may change. */
    static MachineSnapshot of(Machine machine, int exceptOwner, long exceptFrom, long exceptTo) {
        return new MachineSnapshot(machine, new int[] {exceptOwner}, exceptFrom, exceptTo);
    }

    /** As above, for several domains whose frames may change (the attacker, and the partition that serves it). */
    static MachineSnapshot of(Machine machine, int[] exceptOwners, long exceptFrom, long exceptTo) {
        return new MachineSnapshot(machine, exceptOwners, exceptFrom, exceptTo);
    }

    static long diskChecksum(Machine machine) {
        return diskChecksum(machine, 0, 0);
    }

    /** A checksum of the disk outside {@code [exceptFrom, exceptTo)}. */
    static long diskChecksum(Machine machine, long exceptFrom, long exceptTo) {
        byte[] chunk = new byte[1 << 16];
        long hash = 0xcbf29ce484222325L;
        for (long off = 0; off < machine.backing().bytes(); off += chunk.length) {
            long end = off + chunk.length;
            if (off >= exceptFrom && end <= exceptTo) {
                continue;
            }
            machine.backing().peek(off, chunk, 0, chunk.length);
            if (end <= exceptFrom || off >= exceptTo) {
                hash = 31 * hash + java.util.Arrays.hashCode(chunk);
            } else {
                for (int i = 0; i < chunk.length; i++) {
                    if (off + i < exceptFrom || off + i >= exceptTo) {
                        hash = 31 * hash + chunk[i];
                    }
                }
            }
        }
        return hash;
    }

    /** Asserts that nothing outside {@code exceptOwner}'s frames changed, and the disk did not. */
    void assertUnchanged(Machine machine, String what) {
        MachineSnapshot now = new MachineSnapshot(machine, new int[0], exceptFrom, exceptTo);
        for (int mfn = 0; mfn < frameSums.length; mfn++) {
            if (frameSums[mfn] != 0) {
                assertEquals(owners[mfn], now.owners[mfn], what + ": owner of frame " + mfn + " changed");
                assertEquals(frameSums[mfn], now.frameSums[mfn], what + ": frame " + mfn + " of domain " + owners[mfn] + " changed");
            }
        }
        assertEquals(diskSum, now.diskSum, what + ": the disk changed");
    }
}
