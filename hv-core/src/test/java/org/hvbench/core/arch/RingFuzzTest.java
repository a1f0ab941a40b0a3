package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.BlockBack;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Store;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.SharedRing;
import org.junit.jupiter.api.Timeout;

/**
 * The split driver's back end reading a shared page the attacker writes: a hostile front end shares
 * the back end with a well-behaved guest, in each grant mode (the first byte of an input chooses
 * persistent, map or copy). The attacker writes any ring header (producer indices ahead, behind,
 * wrapped; event indices), any slot (plausible requests with fuzzed operations, segment counts,
 * sectors, grant references and sector ranges, or raw bytes), any entry of its grant table (so the
 * pages behind its references come and go, read-only or not, for the back end or another domain),
 * any data, and kicks the back end, once or in floods of full rings.
 *
 * <p>After every input: nothing escaped the back end or the hypervisor; the machine went idle within
 * a bound; no frame of any domain but the attacker and the serving partition changed (their page
 * tables and shared-info pages included), no disk byte outside the attacker's virtual disk, no frame
 * changed hands; the hypervisor's tables and the grant maptrack pass their audits; every request the
 * back end took from the attacker's ring was answered, unless it stopped that ring; in map and copy
 * modes the back end holds no mapping of the attacker's pages once idle but its ring, and in
 * persistent mode every page of its mapping window it took belongs to one grant reference (at most
 * 2048 per front end, however many bad references arrive); the well-behaved guest's ring is never stopped nor sent a
 * response it did not ask for, and its I/O returns exact data.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz: {@code scripts/fuzz.sh ring}.
 */
class RingFuzzTest {
    private static final long DISK_BYTES = 1L << 20;
    private static final long HALF = DISK_BYTES / 512 / 2;
    static final int DATA_PAGES = 6;
    static final int RING_REF = 1;
    /** Data pages 0-3 are granted read-write to the partition, 4 read-only, 5 to dom0. */
    static final int DATA_REF = 2;
    static final int SLOTS = 32;
    private static final Fixture[] FIXTURES = new Fixture[GrantMode.values().length];

    // Actions and choices, as FuzzSeeds writes them.
    static final int REQUEST = 0;
    static final int PUBLISH = 1;
    static final int HEADER = 2;
    static final int RAW = 3;
    static final int ENTRY = 4;
    static final int DATA = 5;
    static final int KICK = 6;
    static final int FLOOD = 7;
    static final int RUN = 8;
    static final int ACTIONS = 9;
    static final int REF_DATA = 0;
    static final int REF_RING = 1;
    static final int REF_SMALL = 2;
    static final int REF_RAW = 3;
    static final int REFS = 4;

    static final class Fixture {
        final GrantMode mode;
        final IoPath path;
        final IoPartitionPlacement placement;
        final Hypervisor hv;
        final Machine machine;
        final MachineMemory memory;
        final Cpu cpu;
        final GrantOps grants;
        final BlockBack back;
        final DomainMemory partitionMemory;
        Domain attacker;
        GrantTable table;
        long ringGpa;
        final long[] data = new long[DATA_PAGES];
        int port;
        final InlineExecutor executor;
        final IoDriver good;
        final long goodWrite;
        final long goodRead;
        final IsolationGuard guard;
        /** The attacker's own count of requests it published. */
        int reqProd;
        int baselineMappings;
        long baselineWindow;
        int baselinePersistent;

        Fixture(GrantMode mode) {
            this.mode = mode;
            path = Placement.IO_PARTITION.open(MachineConfig.defaults().memory(40L << 20).diskBytes(DISK_BYTES).tlbTagged(true),
                2, mode);
            placement = (IoPartitionPlacement) path;
            hv = placement.hypervisor();
            machine = path.machine();
            memory = machine.memory();
            cpu = path.cpu();
            grants = placement.grantOps();
            back = placement.back();
            partitionMemory = placement.partitionMemory();
            executor = new InlineExecutor(path);
            good = new IoDriver(path);
            goodWrite = good.buffer(8192, 512);
            goodRead = good.buffer(8192, 0);
            guard = new IsolationGuard(machine, new int[] {placement.partition().id()}, out -> {
                IsolationGuard.tableFrames(machine, hv.space().table(), out);
                IsolationGuard.domainFrames(machine, hv.dom0(), out);
                IsolationGuard.domainFrames(machine, placement.guest(), out);
            }, HALF * 512, DISK_BYTES);
            connectAttacker();
        }

        /**
         * A hostile front end connects to the back end. A ring the back end stopped stays stopped, so
         * after one the fuzzer goes on with a new attacker; the old one's frames must not change again.
         */
        void connectAttacker() {
            Domain partition = placement.partition();
            if (attacker != null) {
                guard.mayChange(attacker.id(), false);
            }
            attacker = hv.createDomain("attacker", "attacker", 16L << MachineMemory.PAGE_SHIFT, false);
            guard.mayChange(attacker.id(), true);
            reqProd = 0;
            DomainMemory mem = new DomainMemory(attacker, memory);
            cpu.start(attacker.kernel());
            table = new GrantTable(memory, cpu.view(attacker.space()), mem.allocate(1), 1);
            assertTrue(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, table.tableGpa(), 1, 0) > 0);
            ringGpa = mem.allocate(1);
            byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(SharedRing.REQ_EVENT, 1)
                .putInt(SharedRing.RSP_EVENT, 1).array();
            mem.hostWrite(ringGpa, header, 0, header.length);
            assertEquals(0, table.grant(RING_REF, partition.id(), ringGpa >>> 12, false));
            byte[] junk = new byte[MachineMemory.PAGE_SIZE];
            for (int i = 0; i < DATA_PAGES; i++) {
                data[i] = mem.allocate(1);
                new java.util.Random(i).nextBytes(junk);
                mem.hostWrite(data[i], junk, 0, junk.length);
                int to = i < 5 ? partition.id() : hv.dom0().id();
                assertEquals(0, table.grant(DATA_REF + i, to, data[i] >>> 12, i == 4));
            }
            port = (int) hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, partition.id(), 0, 0);
            assertTrue(port > 0);
            Store store = placement.store();
            String dir = Store.vbd(attacker.id());
            store.write(dir + "ring-ref", RING_REF);
            store.write(dir + "event-channel", port);
            store.write(dir + "grant-mode", mode.ordinal());
            cpu.start(partition.kernel());
            back.connect(cpu, attacker, HALF, HALF);
            FuzzChecks.runUntilIdle(path, executor);
            FuzzChecks.goodGuestIo(good, goodWrite, goodRead, 4096, 8192, 0);
            baselineMappings = grants.mappings(partition);
            baselineWindow = partitionMemory.windowPages();
            baselinePersistent = persistentPages();
            guard.snapshot();
        }

        /** Window pages the back end gave persistent references of the attacker and of the guest. */
        int persistentPages() {
            return back.persistentPages(attacker) + back.persistentPages(placement.guest());
        }

        void store(long gpa, byte[] bytes) {
            FuzzChecks.store(cpu, attacker, gpa, bytes);
        }

        void putInt(int offset, int value) {
            store(ringGpa + offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
        }

        int ref(FuzzInput in) {
            switch (in.below(REFS)) {
                case REF_DATA: return DATA_REF + in.below(DATA_PAGES);
                case REF_RING: return RING_REF;
                case REF_SMALL: return in.below(32);
                default: return in.i32();
            }
        }

        /** A request in a slot: mostly plausible, every field fuzzed. */
        void request(FuzzInput in) {
            int slot = (reqProd + in.below(SLOTS)) & (SLOTS - 1);
            ByteBuffer b = ByteBuffer.allocate(BlockProtocol.REQUEST_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            int k = in.below(4);
            b.put(BlockProtocol.OPERATION, (byte) (k == 0 ? BlockProtocol.OP_READ : k == 1 ? BlockProtocol.OP_WRITE
                : k == 2 ? BlockProtocol.OP_FLUSH : in.u8()));
            int segments = in.below(14);
            segments = segments == 13 ? in.u8() : segments;
            b.put(BlockProtocol.NR_SEGMENTS, (byte) segments);
            b.putLong(BlockProtocol.ID, in.u16());
            b.putLong(BlockProtocol.SECTOR, in.below(2) == 0 ? in.below((int) HALF) : in.i64());
            for (int s = 0; s < Math.min(segments, BlockProtocol.MAX_SEGMENTS); s++) {
                int seg = BlockProtocol.segmentOffset(s);
                b.putInt(seg + BlockProtocol.SEGMENT_REF, ref(in));
                boolean whole = in.below(2) == 0;
                b.put(seg + BlockProtocol.SEGMENT_FIRST_SECT, (byte) (whole ? 0 : in.below(9)));
                b.put(seg + BlockProtocol.SEGMENT_LAST_SECT, (byte) (whole ? 7 : in.below(9)));
            }
            store(ringGpa + SharedRing.SLOTS + (long) slot * BlockProtocol.REQUEST_BYTES, b.array());
        }

        void kick() {
            cpu.start(attacker.kernel());
            hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0, 0);
        }
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theBackEndAnswersAHostileRingAndNothingElse(byte[] input) {
        FuzzInput in = new FuzzInput(input);
        int which = in.below(FIXTURES.length);
        if (FIXTURES[which] == null) {
            FIXTURES[which] = new Fixture(GrantMode.values()[which]);
        } else if (FIXTURES[which].back.broken(FIXTURES[which].attacker)) {
            try {
                FIXTURES[which].connectAttacker();
            } catch (IllegalStateException full) {
                // No domain id or memory left for another attacker: a fresh machine.
                FIXTURES[which].path.close();
                FIXTURES[which] = new Fixture(GrantMode.values()[which]);
            }
        }
        Fixture f = FIXTURES[which];
        while (in.more()) {
            switch (in.below(ACTIONS)) {
                case REQUEST:
                    f.request(in);
                    break;
                case PUBLISH: {
                    int k = in.below(4);
                    f.reqProd = k == 0 ? f.reqProd + 1 + in.below(SLOTS) : k == 1 ? f.reqProd - in.below(SLOTS) : k == 2 ? f.reqProd : in.i32();
                    f.putInt(SharedRing.REQ_PROD, f.reqProd);
                    break;
                }
                case HEADER: {
                    int field = 4 * in.below(4);
                    f.putInt(field, in.i32());
                    break;
                }
                case RAW:
                    f.store(f.ringGpa + in.u16() % MachineMemory.PAGE_SIZE, in.bytes(128));
                    break;
                case ENTRY: {
                    int ref = in.below(16);
                    int k = in.below(4);
                    int flags = k == 0 ? GrantEntry.PERMIT_ACCESS : k == 1 ? GrantEntry.PERMIT_ACCESS | GrantEntry.READONLY
                        : k == 2 ? 0 : in.u16();
                    k = in.below(4);
                    int domid = k == 0 ? f.placement.partition().id() : k == 1 ? f.attacker.id() : k == 2 ? f.hv.dom0().id() : in.u16();
                    k = in.below(5);
                    long frame = k == 0 ? f.data[in.below(DATA_PAGES)] >>> 12 : k == 1 ? f.ringGpa >>> 12 : k == 2 ? f.attacker.pages()
                        : k == 3 ? f.attacker.windowStart() >>> 12 : in.i32();
                    f.store(f.table.tableGpa() + (long) GrantEntry.BYTES * ref, ByteBuffer.allocate(GrantEntry.BYTES)
                        .order(ByteOrder.LITTLE_ENDIAN).putInt(GrantEntry.word(flags, domid)).putInt((int) frame).array());
                    break;
                }
                case DATA:
                    f.store(f.data[in.below(DATA_PAGES)] + in.u16() % MachineMemory.PAGE_SIZE, in.bytes(512));
                    break;
                case KICK:
                    f.kick();
                    break;
                case FLOOD: {
                    // The whole ring, as it is, published again and again: a front end that never stops.
                    int rounds = 1 + in.below(64);
                    for (int r = 0; r < rounds; r++) {
                        f.reqProd += SLOTS;
                        f.putInt(SharedRing.REQ_PROD, f.reqProd);
                        f.kick();
                        FuzzChecks.runUntilIdle(f.path, f.executor);
                    }
                    break;
                }
                default:
                    FuzzChecks.runUntilIdle(f.path, f.executor);
            }
        }
        FuzzChecks.runUntilIdle(f.path, f.executor);

        f.guard.assertUnchanged("after the hostile front end's turn");
        FuzzChecks.auditHypervisor(f.hv, f.path.cpus());
        assertNull(f.grants.audit(), "grant maptrack and pins");
        Domain partition = f.placement.partition();
        if (!f.back.broken(f.attacker)) {
            assertEquals(0, f.back.outstanding(f.attacker), "requests taken from the attacker's ring and never answered");
        }
        int mappings = f.grants.mappings(partition);
        if (f.mode == GrantMode.PERSISTENT) {
            assertEquals(f.persistentPages() - f.baselinePersistent, f.partitionMemory.windowPages() - f.baselineWindow,
                "window pages the back end took: each one a persistent reference's, whatever references arrive");
        } else {
            assertEquals(f.baselineMappings, mappings, "mappings the back end holds once idle: the rings only");
            assertEquals(f.baselineWindow, f.partitionMemory.windowPages(), "window pages of the back end");
        }
        assertFalse(f.back.broken(f.placement.guest()), "the well-behaved guest's ring");
        assertFalse(f.placement.front().broken(), "the well-behaved guest's front end");
        assertEquals(0, f.placement.front().badResponses(), "responses the well-behaved guest did not ask for");
        FuzzChecks.goodGuestIo(f.good, f.goodWrite, f.goodRead, 4096, 8192, input.length);
        f.guard.snapshot();
    }
}
