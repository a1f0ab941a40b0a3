package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

import org.hvbench.core.dev.Machine;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.PageWalker;

/**
 * What a fuzz target's attacker must not change, checked after every input: the content of every
 * frame of every domain but the attacker (and the domains named as allowed to change, such as a back
 * end that works for it), of the hypervisor frames named (page tables, shared-info pages), and of the
 * disk outside the attacker's extent; and the owner of every frame (a domain's frame never changes
 * hands; a free frame may only become the hypervisor's, a new table level). Checksums are CRC32C over
 * direct views, cheap enough for thousands of inputs a second; the snapshot is taken again after the
 * well-behaved guest's I/O, which changes its own frames and disk blocks.
 */
final class IsolationGuard {
    /** Names hypervisor frames whose content the attacker must not change, at each snapshot. */
    @FunctionalInterface
    interface HypervisorFrames {
        void each(LongConsumer mfn);
    }

    private final Machine machine;
    private final FrameAllocator frames;
    private final ByteBuffer view;
    private final CRC32C crc = new CRC32C();
    private final boolean[] mayChangeOwner = new boolean[FrameAllocator.OWNER_HYPERVISOR + 1];
    private final HypervisorFrames protectedFrames;
    private final long diskFrom;
    private final long diskTo;
    private final byte[] chunk = new byte[1 << 16];
    private final int[] owners;
    private final int[] sums;
    private final boolean[] checked;
    private final boolean[] exempt;
    private int diskSum;

    /**
     * @param mayChange domains whose frames may change (the attacker first)
     * @param diskFrom first disk byte the attacker may change ({@code diskTo == diskFrom}: none)
     */
    IsolationGuard(Machine machine, int[] mayChange, HypervisorFrames protectedFrames, long diskFrom, long diskTo) {
        this.machine = machine;
        this.frames = machine.frames();
        this.view = machine.memory().newByteBufferView();
        for (int owner : mayChange) {
            mayChangeOwner[owner] = true;
        }
        this.protectedFrames = protectedFrames;
        this.diskFrom = diskFrom;
        this.diskTo = diskTo;
        owners = new int[frames.frames()];
        sums = new int[frames.frames()];
        checked = new boolean[frames.frames()];
        exempt = new boolean[frames.frames()];
    }

    /** The frames of the tables of {@code table}, and its shared-info page for a domain's p2m. */
    static void tableFrames(Machine machine, PageTable table, LongConsumer out) {
        PageWalker.visit(machine.memory(), table.rootMa(), table.levels(), new PageWalker.Visitor() {
            @Override
            public void table(long mfn) {
                out.accept(mfn);
            }

            @Override
            public void leaf(long va, long translation) {
            }
        });
    }

    /** The frames of a domain's p2m and its shared-info page. */
    static void domainFrames(Machine machine, Domain d, LongConsumer out) {
        tableFrames(machine, d.space().table(), out);
        out.accept(d.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT);
    }

    /** From the next snapshot on, the frames of {@code owner} may change (a new attacker), or with {@code false} not. */
    void mayChange(int owner, boolean may) {
        mayChangeOwner[owner] = may;
    }

    /** Frame {@code mfn} may change until the next snapshot (a frame granted writable to the attacker). */
    void exempt(long mfn) {
        exempt[(int) mfn] = true;
    }

    private int frameSum(int mfn) {
        crc.reset();
        int at = mfn << MachineMemory.PAGE_SHIFT;
        crc.update(view.limit(at + MachineMemory.PAGE_SIZE).position(at));
        return (int) crc.getValue();
    }

    private int diskSum() {
        crc.reset();
        long bytes = machine.backing().bytes();
        for (long off = 0; off < bytes; off += chunk.length) {
            long end = Math.min(bytes, off + chunk.length);
            long skipFrom = Math.max(off, Math.min(end, diskFrom));
            long skipTo = Math.max(skipFrom, Math.min(end, diskTo));
            if (skipFrom == off && skipTo == end) {
                continue;
            }
            machine.backing().peek(off, chunk, 0, (int) (end - off));
            crc.update(chunk, 0, (int) (skipFrom - off));
            crc.update(chunk, (int) (skipTo - off), (int) (end - skipTo));
        }
        return (int) crc.getValue();
    }

    /** Takes the checksums the next {@link #assertUnchanged} compares with; clears the exemptions. */
    void snapshot() {
        java.util.Arrays.fill(checked, false);
        java.util.Arrays.fill(exempt, false);
        protectedFrames.each(mfn -> checked[(int) mfn] = frames.owner(mfn) == FrameAllocator.OWNER_HYPERVISOR);
        for (int mfn = 0; mfn < owners.length; mfn++) {
            int owner = frames.owner(mfn);
            owners[mfn] = owner;
            if (owner >= 0 && owner < FrameAllocator.OWNER_IO && !mayChangeOwner[owner]) {
                checked[mfn] = true;
            }
            if (checked[mfn]) {
                sums[mfn] = frameSum(mfn);
            }
        }
        diskSum = diskSum();
    }

    void assertUnchanged(String what) {
        for (int mfn = 0; mfn < owners.length; mfn++) {
            int before = owners[mfn];
            int now = frames.owner(mfn);
            if (now != before && !(before == FrameAllocator.OWNER_FREE && now == FrameAllocator.OWNER_HYPERVISOR)) {
                fail(what + ": frame " + mfn + " went from owner " + before + " to " + now);
            }
            if (checked[mfn] && !exempt[mfn] && sums[mfn] != frameSum(mfn)) {
                fail(what + ": frame " + mfn + " of owner " + before + " changed");
            }
        }
        assertEquals(diskSum, diskSum(), what + ": the disk outside the attacker's extent changed");
    }
}
