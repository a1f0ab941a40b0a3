package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.Timeout;

/**
 * The grant-table operations with a hostile domain on both sides. As mapper, the attacker makes any
 * map, unmap and copy operations (any host address, flags, reference, domain, offsets, lengths,
 * counts; where the operations themselves lie is chosen too, even across a page into a read-only
 * mapping; some inside multicalls) and any table set-up, against a well-behaved peer that grants
 * and revokes pages to it (read-write, read-only, to others) as the fuzzer says. As granter, it
 * writes any entry in its own table while the peer maps its references and stores through them.
 * The machine is an I/O partition whose back end maps and unmaps a well-behaved guest's pages for
 * every request (grant mode map), so grant operations of others run between the attacker's.
 *
 * <p>After every input: nothing escaped; no frame changed that is neither the attacker's nor granted
 * to it read-write (the peer's frames revoked from it are checked against their content at the
 * revocation); no frame changed hands; a store through a read-only, revoked or unmapped page never
 * lands (the peer's stores are checked one by one, and every TLB entry against its table); the
 * hypervisor's tables and the grant maptrack and pins pass their audits; a grant is pinned for
 * writing only while granted read-write to that domain, and the peer's entries are as it wrote them,
 * marked in use exactly while pinned; every unmap drops exactly the pins of what it mapped; when the
 * attacker unmaps every handle it was told of, it holds no mapping and the peer can revoke every
 * grant (nothing leaked); and the well-behaved guest's I/O returns exact data.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz: {@code scripts/fuzz.sh grant}.
 */
class GrantFuzzTest {
    private static final long DISK_BYTES = 1L << 20;
    static final int A_PAGES = 24;
    /** The attacker's table pages at start, and where it writes its operations. */
    static final int A_TABLE = 0;
    static final int A_OPS = 2;
    static final int A_DATA = 4;
    static final int P_PAGES = 8;
    static final int P_REFS = 16;
    static final int WINDOW = 8;
    static final int MAX_OPS = 4;
    private static final short SENTINEL = 0x7FFF;

    // Actions and choices, as FuzzSeeds writes them.
    static final int A_ENTRY = 0;
    static final int A_MAP = 1;
    static final int A_UNMAP = 2;
    static final int A_COPY = 3;
    static final int A_SETUP = 4;
    static final int A_STORE = 5;
    static final int P_GRANT = 6;
    static final int P_REVOKE = 7;
    static final int P_MAP = 8;
    static final int P_STORE = 9;
    static final int P_UNMAP = 10;
    static final int RUN = 11;
    static final int ACTIONS = 12;
    /** Where the attacker's operations lie: its ops page, straddling into its window, in its window, anywhere. */
    static final int AT_OPS = 0;
    static final int AT_STRADDLE = 1;
    static final int AT_WINDOW = 2;
    static final int AT_RAW = 3;
    static final int ATS = 4;
    /** Domains an attacker's operation names. */
    static final int DOM_PEER = 0;
    static final int DOM_ATTACKER = 1;
    static final int DOM_GUEST = 2;
    static final int DOM_PARTITION = 3;
    static final int DOM_DOM0 = 4;
    static final int DOM_RAW = 5;
    static final int DOMS = 6;

    private static Fixture fixture;

    /** What the well-behaved peer has granted with one reference. */
    static final class Grant {
        int domid;
        long gfn;
        boolean readonly;
        boolean live;
    }

    /** A mapping one side was told of: where, which handle, of which reference. */
    static final class Mapping {
        final long host;
        final int handle;
        final int ref;
        final boolean writable;

        Mapping(long host, int handle, int ref, boolean writable) {
            this.host = host;
            this.handle = handle;
            this.ref = ref;
            this.writable = writable;
        }
    }

    static final class Fixture {
        final IoPath path;
        final Hypervisor hv;
        final Machine machine;
        final MachineMemory memory;
        final Cpu cpu;
        final GrantOps grants;
        final Domain attacker;
        final Domain peer;
        final Domain guest;
        final Domain partition;
        final long[] aPages = new long[A_PAGES];
        final long[] pPages = new long[P_PAGES];
        final long pOps;
        final GrantTable pTable;
        final long pTableFrame;
        final Grant[] pGrants = new Grant[P_REFS];
        final InlineExecutor executor;
        final IoDriver good;
        final long goodWrite;
        final long goodRead;
        final IsolationGuard guard;
        final CRC32C crc = new CRC32C();
        long aTableGpa;
        int aEntries;
        final List<Mapping> aMaps = new ArrayList<>();
        final Mapping[] pMaps = new Mapping[WINDOW];
        /** Peer frames revoked from the attacker during this input, with their content then. */
        final Map<Long, Integer> revoked = new HashMap<>();

        Fixture() {
            path = Placement.IO_PARTITION.open(MachineConfig.defaults().memory(40L << 20).diskBytes(DISK_BYTES).tlbTagged(true),
                2, GrantMode.MAP);
            IoPartitionPlacement p = (IoPartitionPlacement) path;
            hv = p.hypervisor();
            machine = path.machine();
            memory = machine.memory();
            cpu = path.cpu();
            guest = p.guest();
            partition = p.partition();
            grants = p.grantOps();
            attacker = hv.createDomain("attacker", "attacker", 1L << 20, false);
            peer = hv.createDomain("peer", "peer", 1L << 20, false);
            DomainMemory aMemory = new DomainMemory(attacker, memory);
            for (int i = 0; i < A_PAGES; i++) {
                aPages[i] = aMemory.allocate(1);
            }
            DomainMemory pMemory = new DomainMemory(peer, memory);
            cpu.start(peer.kernel());
            pTable = new GrantTable(memory, cpu.view(peer.space()), pMemory.allocate(1), 1);
            assertTrue(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, pTable.tableGpa(), 1, 0) > 0);
            pTableFrame = peer.machineFrame(pTable.tableGpa() >>> MachineMemory.PAGE_SHIFT);
            pOps = pMemory.allocate(1);
            byte[] marks = new byte[P_PAGES * MachineMemory.PAGE_SIZE];
            new java.util.Random(11).nextBytes(marks);
            for (int i = 0; i < P_PAGES; i++) {
                pPages[i] = pMemory.allocate(1);
            }
            pMemory.hostWrite(pPages[0], marks, 0, marks.length);
            for (int ref = 0; ref < P_REFS; ref++) {
                pGrants[ref] = new Grant();
            }
            executor = new InlineExecutor(path);
            good = new IoDriver(path);
            goodWrite = good.buffer(8192, 512);
            goodRead = good.buffer(8192, 0);
            guard = new IsolationGuard(machine, new int[] {attacker.id(), partition.id()}, out -> {
                IsolationGuard.tableFrames(machine, hv.space().table(), out);
                IsolationGuard.domainFrames(machine, hv.dom0(), out);
                IsolationGuard.domainFrames(machine, guest, out);
                out.accept(peer.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT);
            }, 0, 0);
            reset();
            FuzzChecks.runUntilIdle(path, executor);
            snapshot();
        }

        /** The start of every input: the attacker's table at its first pages, empty; the peer's first grants. */
        void reset() {
            aTableGpa = aPages[A_TABLE];
            cpu.start(attacker.kernel());
            long entries = hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, aTableGpa, 2, 0);
            assertEquals(2 * GrantEntry.PER_PAGE, entries, "the attacker's table is set up again once nothing is pinned");
            aEntries = (int) entries;
            FuzzChecks.store(cpu, attacker, aTableGpa, new byte[2 * MachineMemory.PAGE_SIZE]);
            // The peer: read-write and read-only to the attacker, one to the guest, one more read-write.
            grant(1, attacker.id(), 0, false);
            grant(2, attacker.id(), 1, true);
            grant(3, guest.id(), 2, false);
            grant(4, attacker.id(), 3, false);
        }

        void snapshot() {
            guard.snapshot();
            guard.exempt(pTableFrame);
            guard.exempt(peer.machineFrame(pOps >>> MachineMemory.PAGE_SHIFT));
            revoked.clear();
            for (int ref = 0; ref < P_REFS; ref++) {
                Grant g = pGrants[ref];
                if (g.live && g.domid == attacker.id() && !g.readonly) {
                    guard.exempt(peer.machineFrame(g.gfn));
                }
            }
        }

        void grant(int ref, int domid, int page, boolean readonly) {
            Grant g = pGrants[ref];
            if (g.live) {
                return;
            }
            cpu.start(peer.kernel());
            g.domid = domid;
            g.gfn = pPages[page] >>> MachineMemory.PAGE_SHIFT;
            g.readonly = readonly;
            g.live = true;
            assertEquals(0, pTable.grant(ref, domid, g.gfn, readonly));
            long mfn = peer.machineFrame(g.gfn);
            if (domid == attacker.id() && !readonly) {
                guard.exempt(mfn);
                revoked.remove(mfn);
            }
        }

        /** The peer revokes a grant; one that was the attacker's read-write is remembered as it is now. */
        int revoke(int ref) {
            Grant g = pGrants[ref];
            cpu.start(peer.kernel());
            int r = pTable.revoke(ref);
            if (r == 0 && g.live) {
                g.live = false;
                if (g.domid == attacker.id() && !g.readonly && !attackerMayStillWrite(g.gfn)) {
                    long mfn = peer.machineFrame(g.gfn);
                    revoked.put(mfn, frameSum(mfn));
                }
            }
            return r;
        }

        /** True when another live grant gives the attacker the peer's page {@code gfn} read-write. */
        boolean attackerMayStillWrite(long gfn) {
            for (Grant other : pGrants) {
                if (other.live && other.gfn == gfn && other.domid == attacker.id() && !other.readonly) {
                    return true;
                }
            }
            return false;
        }

        int frameSum(long mfn) {
            byte[] b = new byte[MachineMemory.PAGE_SIZE];
            memory.getBytes(mfn << MachineMemory.PAGE_SHIFT, b, 0, b.length);
            crc.reset();
            crc.update(b);
            return (int) crc.getValue();
        }

        long window(Domain d, int k) {
            return d.windowStart() + ((long) k << MachineMemory.PAGE_SHIFT);
        }

        int domain(FuzzInput in) {
            switch (in.below(DOMS)) {
                case DOM_PEER: return peer.id();
                case DOM_ATTACKER: return attacker.id();
                case DOM_GUEST: return guest.id();
                case DOM_PARTITION: return partition.id();
                case DOM_DOM0: return hv.dom0().id();
                default: return in.u16();
            }
        }

        /** Where the attacker's {@code count} operations of {@code bytes} each go. */
        long opsAt(FuzzInput in, int bytes) {
            switch (in.below(ATS)) {
                case AT_OPS: return aPages[A_OPS] + bytes * in.below(8);
                case AT_STRADDLE: return window(attacker, in.below(WINDOW)) - 1 - in.below(bytes);
                case AT_WINDOW: return window(attacker, in.below(WINDOW)) + in.u16() % MachineMemory.PAGE_SIZE;
                default: return in.i64();
            }
        }

        int count(FuzzInput in) {
            int k = in.below(MAX_OPS + 2);
            return k < MAX_OPS ? k + 1 : k == MAX_OPS ? 0 : in.i32();
        }

        /** The attacker's kernel makes a grant-table hypercall, directly or as the one entry of a multicall. */
        long attackerCall(FuzzInput in, int cmd, long gpa, long count) {
            cpu.start(attacker.kernel());
            if (in.below(4) != 0) {
                return hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, cmd, gpa, count, 0);
            }
            long entry = aPages[A_OPS + 1] + MachineMemory.PAGE_SIZE - Hypercall.MULTICALL_ENTRY_BYTES;
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(Hypercall.MULTICALL_ENTRY_BYTES).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putLong(Hypercall.MULTICALL_OP, Hypercall.GRANT_TABLE_OP);
            b.putLong(Hypercall.MULTICALL_ARGS, cmd).putLong(Hypercall.MULTICALL_ARGS + 8, gpa).putLong(Hypercall.MULTICALL_ARGS + 16, count);
            FuzzChecks.store(cpu, attacker, entry, b.array());
            long r = hv.hypercall(cpu, Hypercall.MULTICALL, entry, 1, 0, 0);
            return r < 0 ? r : memory.getLong(Translation.machineAddress(attacker.space().table().translate(entry),
                entry + Hypercall.MULTICALL_RESULT));
        }

        /**
         * Marks an operation's status (and handle) as not yet written: true when the domain could store
         * there, so that what it reads there afterwards is the hypervisor's answer.
         */
        boolean markUnanswered(Domain d, long statusGpa, long handleGpa) {
            byte[] status = {(byte) SENTINEL, (byte) (SENTINEL >>> 8)};
            boolean marked = FuzzChecks.store(cpu, d, statusGpa, status) == 2;
            return handleGpa < 0 ? marked : marked && FuzzChecks.store(cpu, d, handleGpa, new byte[] {-1, -1, -1, -1}) == 4;
        }

        /** True when the hypervisor can write an answer of {@code bytes} at {@code gpa}: mapped, not across a page. */
        boolean answerable(Domain d, long gpa, int bytes) {
            return (gpa & MachineMemory.PAGE_MASK) <= MachineMemory.PAGE_SIZE - bytes && d.space().table().translate(gpa) >= 0;
        }

        /** Reads a short of the attacker's memory by walk, or SENTINEL where nothing readable is mapped. */
        int readShort(Domain d, long gpa) {
            long t = d.space().table().translate(gpa);
            if (t < 0 || (gpa & MachineMemory.PAGE_MASK) > MachineMemory.PAGE_SIZE - 2) {
                return SENTINEL;
            }
            return memory.getShort(Translation.machineAddress(t, gpa));
        }

        int readInt(Domain d, long gpa) {
            long t = d.space().table().translate(gpa);
            if (t < 0 || (gpa & MachineMemory.PAGE_MASK) > MachineMemory.PAGE_SIZE - 4) {
                return -1;
            }
            return memory.getInt(Translation.machineAddress(t, gpa));
        }
    }

    private static java.nio.ByteBuffer op(int bytes) {
        return java.nio.ByteBuffer.allocate(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    private static int[][] pins(Fixture f) {
        int[][] pins = new int[P_REFS][2];
        for (int ref = 0; ref < P_REFS; ref++) {
            pins[ref][0] = f.grants.pins(f.peer, ref, false);
            pins[ref][1] = f.grants.pins(f.peer, ref, true);
        }
        return pins;
    }

    /** How many slots past the {@code n} operations written a batch of {@code count} runs (the hypervisor takes up to MAX_BATCH). */
    private static int pastTheWritten(int count, int n) {
        return count > n && count <= GrantOps.MAX_BATCH ? count - n : 0;
    }

    private static void attackerMaps(Fixture f, FuzzInput in) {
        int count = f.count(in);
        int n = Math.max(0, Math.min(count, MAX_OPS));
        long at = f.opsAt(in, GrantOps.MAP_BYTES);
        int[] refs = new int[n];
        boolean[] writable = new boolean[n];
        long[] hosts = new long[n];
        boolean[] trusted = new boolean[n];
        for (int i = 0; i < n; i++) {
            java.nio.ByteBuffer b = op(GrantOps.MAP_BYTES);
            int k = in.below(4);
            hosts[i] = k < 2 ? f.window(f.attacker, in.below(WINDOW)) : k == 2 ? f.aPages[A_DATA] : in.i64();
            int flags = in.below(4);
            refs[i] = in.below(2) == 0 ? in.below(P_REFS) : in.i32();
            writable[i] = (flags & GrantOps.MAP_READONLY) == 0;
            b.putLong(GrantOps.MAP_HOST, hosts[i]).putInt(GrantOps.MAP_FLAGS, flags).putInt(GrantOps.MAP_REF, refs[i])
                .putShort(GrantOps.MAP_DOM, (short) f.domain(in));
            long opGpa = at + (long) i * GrantOps.MAP_BYTES;
            FuzzChecks.store(f.cpu, f.attacker, opGpa, b.array());
            trusted[i] = f.markUnanswered(f.attacker, opGpa + GrantOps.MAP_STATUS, opGpa + GrantOps.MAP_HANDLE);
        }
        // A count above the operations written makes the hypervisor run what memory holds past them (earlier
        // batches' operations): marked unanswered like the others, and read back when one was made.
        int past = pastTheWritten(count, n);
        boolean[] pastTrusted = new boolean[past];
        for (int j = 0; j < past; j++) {
            long opGpa = at + (long) (n + j) * GrantOps.MAP_BYTES;
            pastTrusted[j] = f.markUnanswered(f.attacker, opGpa + GrantOps.MAP_STATUS, opGpa + GrantOps.MAP_HANDLE);
        }
        f.attackerCall(in, Hypercall.GNTTAB_MAP, at, count);
        for (int i = 0; i < n; i++) {
            long opGpa = at + (long) i * GrantOps.MAP_BYTES;
            if (trusted[i] && f.readShort(f.attacker, opGpa + GrantOps.MAP_STATUS) == 0) {
                f.aMaps.add(new Mapping(hosts[i], f.readInt(f.attacker, opGpa + GrantOps.MAP_HANDLE), refs[i], writable[i]));
            }
        }
        for (int j = 0; j < past; j++) {
            long opGpa = at + (long) (n + j) * GrantOps.MAP_BYTES;
            if (pastTrusted[j] && f.readShort(f.attacker, opGpa + GrantOps.MAP_STATUS) == 0) {
                long host = f.readInt(f.attacker, opGpa + GrantOps.MAP_HOST) & 0xFFFF_FFFFL
                    | (long) f.readInt(f.attacker, opGpa + GrantOps.MAP_HOST + 4) << 32;
                int flags = f.readInt(f.attacker, opGpa + GrantOps.MAP_FLAGS);
                f.aMaps.add(new Mapping(host, f.readInt(f.attacker, opGpa + GrantOps.MAP_HANDLE),
                    f.readInt(f.attacker, opGpa + GrantOps.MAP_REF), (flags & GrantOps.MAP_READONLY) == 0));
            }
        }
    }

    private static void attackerUnmaps(Fixture f, FuzzInput in, boolean all) {
        int count = all ? Math.min(MAX_OPS, f.aMaps.size()) : f.count(in);
        int n = Math.max(0, Math.min(count, MAX_OPS));
        long at = all ? f.aPages[A_OPS] : f.opsAt(in, GrantOps.UNMAP_BYTES);
        long[] hosts = new long[n];
        int[] handles = new int[n];
        boolean[] trusted = new boolean[n];
        for (int i = 0; i < n; i++) {
            int k = all ? 0 : in.below(3);
            if (k == 0 && !f.aMaps.isEmpty()) {
                Mapping m = f.aMaps.get(all ? i : in.below(f.aMaps.size()));
                hosts[i] = m.host;
                handles[i] = m.handle;
            } else {
                hosts[i] = k == 1 ? f.window(f.attacker, in.below(WINDOW)) : in.i64();
                handles[i] = in.below(2) == 0 ? in.below(8) : in.i32();
            }
            long opGpa = at + (long) i * GrantOps.UNMAP_BYTES;
            FuzzChecks.store(f.cpu, f.attacker, opGpa,
                op(GrantOps.UNMAP_BYTES).putLong(GrantOps.UNMAP_HOST, hosts[i]).putInt(GrantOps.UNMAP_HANDLE, handles[i]).array());
            trusted[i] = f.markUnanswered(f.attacker, opGpa + GrantOps.UNMAP_STATUS, -1);
        }
        int[][] before = pins(f);
        long r = all ? f.hv.hypercall(f.cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_UNMAP, at, count, 0)
            : f.attackerCall(in, Hypercall.GNTTAB_UNMAP, at, count);
        int[][] expected = before;
        int unmapped = 0;
        boolean allTold = true;
        for (int i = 0; i < n; i++) {
            long opGpa = at + (long) i * GrantOps.UNMAP_BYTES;
            if (!trusted[i] || !f.answerable(f.attacker, opGpa + GrantOps.UNMAP_STATUS, 2)) {
                // Not told: the status lay where the attacker could not mark it, across a page (the hypervisor
                // unmaps, then cannot answer: EFAULT, as in Xen), or in the page the op unmapped.
                allTold = false;
                continue;
            }
            if (f.readShort(f.attacker, opGpa + GrantOps.UNMAP_STATUS) != 0) {
                continue;
            }
            unmapped++;
            Mapping m = null;
            for (Mapping known : f.aMaps) {
                if (known.host == hosts[i] && known.handle == handles[i]) {
                    m = known;
                }
            }
            if (m == null) {
                allTold = false;
                continue;
            }
            f.aMaps.remove(m);
            expected[m.ref][0]--;
            expected[m.ref][1] -= m.writable ? 1 : 0;
            assertTrue(f.cpu.translate(f.attacker.space(), m.host, Translation.READ) < 0,
                "the attacker still reaches 0x" + Long.toHexString(m.host) + " after its unmap");
        }
        if (pastTheWritten(count, n) > 0) {
            // The hypervisor also ran what memory held past the operations written (an earlier batch's, which
            // may name a live mapping): the attacker was not told of those in the model's terms.
            allTold = false;
        }
        if (!allTold) {
            // An unmap whose status the attacker could not read may have been done: what it knows is
            // what its own table still maps.
            f.aMaps.removeIf(m -> f.attacker.space().table().translate(m.host) < 0);
        }
        if (all) {
            assertEquals(0, r, "the attacker's unmaps of what it was told");
            assertEquals(n, unmapped, "each handle the attacker was told of unmaps");
        }
        if (allTold) {
            int[][] after = pins(f);
            for (int k = 0; k < P_REFS; k++) {
                int ref = k;
                assertEquals(expected[ref][0], after[ref][0], () -> "readers of the peer's grant " + ref + " after unmaps");
                assertEquals(expected[ref][1], after[ref][1], () -> "writers of the peer's grant " + ref + " after unmaps");
            }
        }
    }

    private static void attackerCopies(Fixture f, FuzzInput in) {
        int count = f.count(in);
        int n = Math.max(0, Math.min(count, MAX_OPS));
        long at = f.opsAt(in, GrantOps.COPY_BYTES);
        for (int i = 0; i < n; i++) {
            java.nio.ByteBuffer b = op(GrantOps.COPY_BYTES);
            for (int side = 0; side < 2; side++) {
                int k = in.below(3);
                int ref = k == 0 ? in.below(P_REFS) : k == 1 ? (int) (f.aPages[A_DATA + in.below(4)] >>> 12) : in.i32();
                b.putInt(side == 0 ? GrantOps.COPY_SRC_REF : GrantOps.COPY_DST_REF, ref);
                b.putShort(side == 0 ? GrantOps.COPY_SRC_DOM : GrantOps.COPY_DST_DOM, (short) f.domain(in));
                b.putShort(side == 0 ? GrantOps.COPY_SRC_OFFSET : GrantOps.COPY_DST_OFFSET,
                    (short) (in.below(2) == 0 ? 512 * in.below(8) : in.u16()));
            }
            int k = in.below(4);
            b.putShort(GrantOps.COPY_LENGTH, (short) (k == 0 ? 512 : k == 1 ? 4096 : k == 2 ? 1 : in.u16()));
            b.putShort(GrantOps.COPY_FLAGS, (short) in.below(4));
            long opGpa = at + (long) i * GrantOps.COPY_BYTES;
            FuzzChecks.store(f.cpu, f.attacker, opGpa, b.array());
            f.markUnanswered(f.attacker, opGpa + GrantOps.COPY_STATUS, -1);
        }
        int[][] before = pins(f);
        f.attackerCall(in, Hypercall.GNTTAB_COPY, at, count);
        assertTrue(java.util.Arrays.deepEquals(before, pins(f)), "a copy leaves no pin behind");
    }

    /** The peer maps one of the attacker's references at a page of its window, or unmaps what it has there. */
    private static void peerMaps(Fixture f, int k, FuzzInput in, boolean map) {
        long host = f.window(f.peer, k);
        java.nio.ByteBuffer b;
        int cmd;
        int ref = 0;
        boolean writable = false;
        if (map) {
            if (f.pMaps[k] != null) {
                return;
            }
            ref = in.below(2) == 0 ? in.below(32) : in.i32();
            writable = in.below(2) == 0;
            b = op(GrantOps.MAP_BYTES).putLong(GrantOps.MAP_HOST, host).putInt(GrantOps.MAP_FLAGS, writable ? 0 : GrantOps.MAP_READONLY)
                .putInt(GrantOps.MAP_REF, ref).putShort(GrantOps.MAP_DOM, (short) f.attacker.id());
            cmd = Hypercall.GNTTAB_MAP;
        } else {
            if (f.pMaps[k] == null) {
                return;
            }
            b = op(GrantOps.UNMAP_BYTES).putLong(GrantOps.UNMAP_HOST, host).putInt(GrantOps.UNMAP_HANDLE, f.pMaps[k].handle);
            cmd = Hypercall.GNTTAB_UNMAP;
        }
        f.cpu.start(f.peer.kernel());
        FuzzChecks.store(f.cpu, f.peer, f.pOps, b.array());
        assertEquals(0, f.hv.hypercall(f.cpu, Hypercall.GRANT_TABLE_OP, cmd, f.pOps, 1, 0));
        if (map) {
            if (f.readShort(f.peer, f.pOps + GrantOps.MAP_STATUS) == 0) {
                f.pMaps[k] = new Mapping(host, f.readInt(f.peer, f.pOps + GrantOps.MAP_HANDLE), ref, writable);
                long t = f.peer.space().table().translate(host);
                assertEquals(f.attacker.id(), f.machine.frames().owner(Translation.pageBase(t) >>> 12),
                    "the peer's mapping of the attacker's grant " + ref + " reaches a frame of the attacker");
            }
        } else {
            assertEquals(0, f.readShort(f.peer, f.pOps + GrantOps.UNMAP_STATUS), "the peer's unmap of its own handle");
            f.pMaps[k] = null;
        }
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void grantOperationsOfAHostileDomainLeakNothing(byte[] input) {
        if (fixture == null) {
            fixture = new Fixture();
        }
        Fixture f = fixture;
        FuzzInput in = new FuzzInput(input);
        while (in.more()) {
            switch (in.below(ACTIONS)) {
                case A_ENTRY: {
                    int ref = in.below(2) == 0 ? in.below(32) : in.u16();
                    int k = in.below(4);
                    int flags = k == 0 ? GrantEntry.PERMIT_ACCESS : k == 1 ? GrantEntry.PERMIT_ACCESS | GrantEntry.READONLY
                        : k == 2 ? 0 : in.u16();
                    int domid = f.domain(in);
                    k = in.below(5);
                    long frame = k == 0 ? f.aPages[A_DATA + in.below(A_PAGES - A_DATA)] >>> 12 : k == 1 ? f.attacker.pages()
                        : k == 2 ? (f.window(f.attacker, in.below(WINDOW)) >>> 12) : k == 3 ? f.aPages[A_TABLE] >>> 12 : in.i32();
                    java.nio.ByteBuffer b = op(GrantEntry.BYTES).putInt(GrantEntry.WORD, GrantEntry.word(flags, domid))
                        .putInt(GrantEntry.FRAME, (int) frame);
                    FuzzChecks.store(f.cpu, f.attacker, f.aTableGpa + (long) GrantEntry.BYTES * (ref % f.aEntries), b.array());
                    break;
                }
                case A_MAP:
                    attackerMaps(f, in);
                    break;
                case A_UNMAP:
                    attackerUnmaps(f, in, false);
                    break;
                case A_COPY:
                    attackerCopies(f, in);
                    break;
                case A_SETUP: {
                    int k = in.below(4);
                    long gpa = k == 0 ? f.aPages[in.below(A_PAGES)] : k == 1 ? f.window(f.attacker, in.below(WINDOW))
                        : k == 2 ? f.attacker.sharedInfoGpa() : in.i64();
                    k = in.below(4);
                    long pages = k < 3 ? 1 << k : in.i64();
                    long r = f.attackerCall(in, Hypercall.GNTTAB_SETUP, gpa, pages);
                    if (r > 0) {
                        f.aTableGpa = gpa;
                        f.aEntries = (int) r;
                    }
                    break;
                }
                case A_STORE: {
                    int k = in.below(3);
                    long gpa = k == 0 ? f.window(f.attacker, in.below(WINDOW)) + in.u16() % MachineMemory.PAGE_SIZE
                        : k == 1 ? f.aPages[in.below(A_PAGES)] : in.i64();
                    FuzzChecks.store(f.cpu, f.attacker, gpa, in.bytes(256));
                    break;
                }
                case P_GRANT: {
                    int ref = 1 + in.below(P_REFS - 1);
                    int k = in.below(4);
                    int domid = k < 2 ? f.attacker.id() : k == 2 ? f.guest.id() : f.partition.id();
                    f.grant(ref, domid, in.below(P_PAGES), in.below(2) == 0);
                    break;
                }
                case P_REVOKE:
                    f.revoke(1 + in.below(P_REFS - 1));
                    break;
                case P_MAP:
                    peerMaps(f, in.below(WINDOW), in, true);
                    break;
                case P_UNMAP:
                    peerMaps(f, in.below(WINDOW), in, false);
                    break;
                case P_STORE: {
                    int k = in.below(WINDOW);
                    Mapping m = f.pMaps[k];
                    byte[] bytes = in.bytes(64);
                    f.cpu.start(f.peer.kernel());
                    int stored = FuzzChecks.store(f.cpu, f.peer, f.window(f.peer, k) + 128, bytes);
                    assertEquals(m != null && m.writable ? bytes.length : 0, stored,
                        "the peer's store through window page " + k + (m == null ? " (unmapped)" : m.writable ? "" : " (read-only)"));
                    break;
                }
                default:
                    FuzzChecks.runUntilIdle(f.path, f.executor);
            }
        }
        FuzzChecks.runUntilIdle(f.path, f.executor);
        check(f, true);

        // The attacker unmaps everything it was told of, the peer likewise: nothing may be left.
        while (!f.aMaps.isEmpty()) {
            int left = f.aMaps.size();
            f.cpu.start(f.attacker.kernel());
            attackerUnmaps(f, in, true);
            assertTrue(f.aMaps.size() < left, "the attacker's unmaps make progress");
        }
        for (int k = 0; k < WINDOW; k++) {
            if (f.pMaps[k] != null) {
                peerMaps(f, k, in, false);
            }
        }
        assertEquals(0, f.grants.mappings(f.attacker), "mappings the attacker holds after unmapping all it was told of");
        assertEquals(0, f.grants.mappings(f.peer), "mappings the peer holds after unmapping all");
        for (int k = 1; k < P_REFS; k++) {
            int ref = k;
            if (f.pGrants[ref].live) {
                assertEquals(0, f.revoke(ref), () -> "the peer revokes its grant " + ref + " once the attacker unmapped");
            }
        }
        check(f, false);
        f.reset();
        FuzzChecks.goodGuestIo(f.good, f.goodWrite, f.goodRead, 4096, 8192, input.length);
        f.snapshot();
    }

    /** The checks after the attacker's turn; after the clean-up, only the grant tables' ({@code full} false). */
    private static void check(Fixture f, boolean full) {
        if (full) {
            f.guard.assertUnchanged("after the attacker's turn");
            for (Map.Entry<Long, Integer> e : f.revoked.entrySet()) {
                assertEquals(e.getValue(), f.frameSum(e.getKey()), "a frame of the peer changed after it was revoked from the attacker");
            }
            FuzzChecks.auditHypervisor(f.hv, f.path.cpus());
        }
        assertNull(f.grants.audit(), "grant maptrack and pins");
        for (int k = 0; k < P_REFS; k++) {
            int ref = k;
            Grant g = f.pGrants[ref];
            int word = f.pTable.word(ref);
            int reads = f.grants.pins(f.peer, ref, false);
            int writes = f.grants.pins(f.peer, ref, true);
            int expected = g.live ? GrantEntry.word(GrantEntry.PERMIT_ACCESS | (g.readonly ? GrantEntry.READONLY : 0), g.domid) : 0;
            assertEquals(expected, word & ~GrantEntry.IN_USE, () -> "the peer's grant " + ref + " as it wrote it");
            assertEquals(reads > 0, (word & GrantEntry.READING) != 0, () -> "grant " + ref + " marked reading exactly while pinned");
            assertEquals(writes > 0, (word & GrantEntry.WRITING) != 0, () -> "grant " + ref + " marked writing exactly while pinned");
            assertTrue(reads == 0 || g.live, () -> "a revoked grant " + ref + " is not pinned");
            assertTrue(writes == 0 || g.live && !g.readonly, () -> "grant " + ref + " pinned for writing only while granted read-write");
        }
    }
}
