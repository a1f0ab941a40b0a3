package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VmExit;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageWalker;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.Timeout;

/**
 * The hypercall dispatcher driven by an unprivileged domain: any hypercall (block I/O, multicall,
 * console, grant table, event channel, IOMMU, device model, unknown numbers) with any arguments,
 * trapped writes to any device register and start-I/Os, user-level hypercalls, and any bytes stored
 * anywhere through its own translation (its pages, its shared-info page, its mapping window), with
 * plausible multicall entries, block requests, grant operations and grant entries among them. dom0
 * grants it one page read-write and one read-only, so the grant paths have something to map.
 *
 * <p>After every input: nothing escaped the hypervisor as an exception; the machine went idle; no
 * frame of another domain changed but dom0's page granted read-write to the attacker (and dom0's
 * grant table, whose entries are checked instead: the granter's fields as dom0 wrote them, in use
 * exactly while pinned), nor the page tables and shared-info pages of the other domains and of the
 * hypervisor, nor any disk byte outside the attacker's virtual disk; no frame changed hands; the
 * hypervisor's tables pass their audits (frame allocator, every p2m, grant maptrack and pins); no TLB
 * entry is stale; the in-hypervisor driver's I/O table keeps no guest page once idle; and the
 * well-behaved guest's I/O returns exact data.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz: {@code scripts/fuzz.sh hypervisor}.
 */
class HypervisorFuzzTest {
    private static final long DISK_BYTES = 2L << 20;
    private static final long ATTACKER_FIRST = DISK_BYTES / 512 / 2;
    static final int PAGES = 16;
    /** Hypercalls chosen by {@link #OP}: the last choice reads a raw number instead. */
    static final int[] OPS = {Hypercall.BLOCK_IO, Hypercall.MULTICALL, Hypercall.CONSOLE_IO, Hypercall.GRANT_TABLE_OP,
        Hypercall.EVENT_CHANNEL_OP, Hypercall.IOMMU_OP, Hypercall.DM_OP};
    static final int OP = OPS.length + 1;
    /** dom0's grants: to the attacker read-write, read-only, and one to the guest. */
    static final int REF_RW = 1;
    static final int REF_RO = 2;
    static final int REF_GUEST = 3;

    // Actions and argument kinds, as FuzzSeeds writes them.
    static final int HYPERCALL = 0;
    static final int VMEXIT = 1;
    static final int STORE = 2;
    static final int RECORD = 3;
    static final int USER_HYPERCALL = 4;
    static final int RUN = 5;
    static final int ACTIONS = 6;
    static final int ARG_PAGE = 0;
    static final int ARG_PAGE_OFFSET = 1;
    static final int ARG_SMALL = 2;
    static final int ARG_EDGE = 3;
    static final int ARG_MEMORY_END = 4;
    static final int ARG_WINDOW = 5;
    static final int ARG_SHARED_INFO = 6;
    static final int ARG_DOMAIN = 7;
    static final int ARG_RAW = 8;
    static final int ARGS = 9;
    static final int REC_MULTICALL = 0;
    static final int REC_BLKIF = 1;
    static final int REC_GNT_MAP = 2;
    static final int REC_GNT_UNMAP = 3;
    static final int REC_GNT_COPY = 4;
    static final int REC_GRANT_ENTRY = 5;
    static final int RECORDS = 6;
    static final long[] EDGES = {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32, 1L << 40, Integer.MAX_VALUE, 0xFFFF_FFFFL};

    private static Fixture fixture;

    /** One machine for every input of a run: building it per input would fuzz nothing but start-up. */
    static final class Fixture {
        final IoPath path;
        final Hypervisor hv;
        final Machine machine;
        final MachineMemory memory;
        final Cpu cpu;
        final GrantOps grants;
        final Domain attacker;
        final Domain dom0;
        final Domain guest;
        final GrantTable dom0Grants;
        final int[] dom0Words = new int[4];
        final long dom0RwFrame;
        final long dom0TableFrame;
        final long[] pages = new long[PAGES];
        final InlineExecutor executor;
        final IoDriver good;
        final long goodWrite;
        final long goodRead;
        final IsolationGuard guard;

        Fixture() {
            path = Placement.HYPERVISOR_PV.open(MachineConfig.defaults().memory(32L << 20).diskBytes(DISK_BYTES)
                .tlbTagged(true), 2);
            HypervisorPlacement p = (HypervisorPlacement) path;
            hv = p.hypervisor();
            machine = path.machine();
            memory = machine.memory();
            cpu = path.cpu();
            guest = p.guest();
            dom0 = hv.dom0();
            grants = new GrantOps(hv);
            new EventChannels(hv);
            hv.blockDriver().assignDisk(guest, 0, ATTACKER_FIRST);
            attacker = hv.createDomain("attacker", "attacker", 1L << 20, false);
            hv.blockDriver().assignDisk(attacker, ATTACKER_FIRST, ATTACKER_FIRST);
            attacker.setMmioHandler(hv.blockDriver());
            attacker.setChannelHandler(hv.blockDriver());
            DomainMemory attackerMemory = new DomainMemory(attacker, memory);
            for (int i = 0; i < PAGES; i++) {
                pages[i] = attackerMemory.allocate(1);
            }

            // dom0 grants the attacker a page read-write and one read-only, and the guest one.
            DomainMemory dom0Memory = new DomainMemory(dom0, memory);
            cpu.start(dom0.kernel());
            dom0Grants = new GrantTable(memory, cpu.view(dom0.space()), dom0Memory.allocate(1), 1);
            assertTrue(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, dom0Grants.tableGpa(), 1, 0) > 0);
            long rw = dom0Memory.allocate(1);
            long ro = dom0Memory.allocate(1);
            long other = dom0Memory.allocate(1);
            byte[] marks = new byte[3 * MachineMemory.PAGE_SIZE];
            new java.util.Random(7).nextBytes(marks);
            dom0Memory.hostWrite(rw, marks, 0, marks.length);
            assertEquals(0, dom0Grants.grant(REF_RW, attacker.id(), rw >>> 12, false));
            assertEquals(0, dom0Grants.grant(REF_RO, attacker.id(), ro >>> 12, true));
            assertEquals(0, dom0Grants.grant(REF_GUEST, guest.id(), other >>> 12, false));
            for (int ref = 1; ref <= 3; ref++) {
                dom0Words[ref] = dom0Grants.word(ref);
            }
            dom0RwFrame = dom0.machineFrame(rw >>> 12);
            dom0TableFrame = dom0.machineFrame(dom0Grants.tableGpa() >>> 12);

            executor = new InlineExecutor(path);
            good = new IoDriver(path);
            goodWrite = good.buffer(8192, 512);
            goodRead = good.buffer(8192, 0);
            guard = new IsolationGuard(machine, new int[] {attacker.id()}, out -> {
                IsolationGuard.tableFrames(machine, hv.space().table(), out);
                IsolationGuard.domainFrames(machine, dom0, out);
                IsolationGuard.domainFrames(machine, guest, out);
            }, ATTACKER_FIRST * 512, DISK_BYTES);
            FuzzChecks.runUntilIdle(path, executor);
            snapshot();
        }

        void snapshot() {
            guard.snapshot();
            guard.exempt(dom0RwFrame);
            guard.exempt(dom0TableFrame);
        }

        long page(FuzzInput in) {
            return pages[in.below(PAGES)];
        }

        long argument(FuzzInput in) {
            switch (in.below(ARGS)) {
                case ARG_PAGE: return page(in);
                case ARG_PAGE_OFFSET: return page(in) + in.u16() % (MachineMemory.PAGE_SIZE + 1);
                case ARG_SMALL: return in.below(44) - 2;
                case ARG_EDGE: return in.pick(EDGES);
                case ARG_MEMORY_END: return attacker.memoryBytes() + (short) in.u16();
                case ARG_WINDOW: return attacker.windowStart() + ((long) in.below(16) << MachineMemory.PAGE_SHIFT);
                case ARG_SHARED_INFO: return attacker.sharedInfoGpa();
                case ARG_DOMAIN: return in.pick(dom0.id(), guest.id(), attacker.id(), Hypervisor.MAX_DOMAINS - 1,
                    Hypervisor.MAX_DOMAINS, FrameAllocator.OWNER_HYPERVISOR);
                default: return in.i64();
            }
        }

        int op(FuzzInput in) {
            int k = in.below(OP);
            return k < OPS.length ? OPS[k] : in.i32();
        }

        /** A small command number, or any argument. */
        long command(FuzzInput in) {
            return in.below(2) == 0 ? in.below(16) - 1 : argument(in);
        }

        /** Writes one plausible record (or one with raw fields) where the fuzzer says. */
        void record(FuzzInput in) {
            int kind = in.below(RECORDS);
            long at = page(in) + in.u16() % MachineMemory.PAGE_SIZE;
            ByteBuffer b;
            switch (kind) {
                case REC_MULTICALL:
                    b = buffer(Hypercall.MULTICALL_ENTRY_BYTES);
                    b.putLong(Hypercall.MULTICALL_OP, op(in));
                    for (int i = 0; i < 4; i++) {
                        b.putLong(Hypercall.MULTICALL_ARGS + 8 * i, i == 0 ? command(in) : argument(in));
                    }
                    break;
                case REC_BLKIF: {
                    b = buffer(BlockProtocol.REQUEST_BYTES);
                    int op = in.below(4);
                    b.put(BlockProtocol.OPERATION, (byte) (op == 0 ? BlockProtocol.OP_READ : op == 1 ? BlockProtocol.OP_WRITE
                        : op == 2 ? BlockProtocol.OP_FLUSH : in.u8()));
                    int segments = in.below(13);
                    b.put(BlockProtocol.NR_SEGMENTS, (byte) segments);
                    b.putLong(BlockProtocol.ID, in.u16());
                    b.putLong(BlockProtocol.SECTOR, in.below(2) == 0 ? in.below(64) : argument(in));
                    for (int s = 0; s < Math.min(segments, BlockProtocol.MAX_SEGMENTS); s++) {
                        int seg = BlockProtocol.segmentOffset(s);
                        b.putInt(seg + BlockProtocol.SEGMENT_REF, (int) (argument(in) >>> 12));
                        b.put(seg + BlockProtocol.SEGMENT_FIRST_SECT, (byte) in.below(9));
                        b.put(seg + BlockProtocol.SEGMENT_LAST_SECT, (byte) in.below(9));
                    }
                    break;
                }
                case REC_GNT_MAP:
                    b = buffer(GrantOps.MAP_BYTES);
                    b.putLong(GrantOps.MAP_HOST, argument(in));
                    b.putInt(GrantOps.MAP_FLAGS, in.below(5));
                    b.putInt(GrantOps.MAP_REF, in.below(2) == 0 ? in.below(5) : (int) argument(in));
                    b.putShort(GrantOps.MAP_DOM, (short) argument(in));
                    break;
                case REC_GNT_UNMAP:
                    b = buffer(GrantOps.UNMAP_BYTES);
                    b.putLong(GrantOps.UNMAP_HOST, argument(in));
                    b.putInt(GrantOps.UNMAP_HANDLE, in.below(2) == 0 ? in.below(4) : in.i32());
                    break;
                case REC_GNT_COPY:
                    b = buffer(GrantOps.COPY_BYTES);
                    b.putInt(GrantOps.COPY_SRC_REF, (int) command(in));
                    b.putShort(GrantOps.COPY_SRC_DOM, (short) argument(in));
                    b.putShort(GrantOps.COPY_SRC_OFFSET, (short) in.u16());
                    b.putInt(GrantOps.COPY_DST_REF, (int) command(in));
                    b.putShort(GrantOps.COPY_DST_DOM, (short) argument(in));
                    b.putShort(GrantOps.COPY_DST_OFFSET, (short) in.u16());
                    b.putShort(GrantOps.COPY_LENGTH, (short) in.u16());
                    b.putShort(GrantOps.COPY_FLAGS, (short) in.below(4));
                    break;
                default:
                    b = buffer(GrantEntry.BYTES);
                    b.putInt(GrantEntry.WORD, GrantEntry.word(in.below(32), (int) argument(in)));
                    b.putInt(GrantEntry.FRAME, (int) (argument(in) >>> 12));
            }
            FuzzChecks.store(cpu, attacker, at, b.array());
        }

        private static ByteBuffer buffer(int bytes) {
            return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void anUnprivilegedDomainCannotBreakTheHypervisor(byte[] input) {
        if (fixture == null) {
            fixture = new Fixture();
        }
        Fixture f = fixture;
        FuzzInput in = new FuzzInput(input);
        while (in.more()) {
            switch (in.below(ACTIONS)) {
                case HYPERCALL: {
                    int op = f.op(in);
                    long a0 = f.command(in);
                    long a1 = f.argument(in);
                    long a2 = f.argument(in);
                    long a3 = f.argument(in);
                    f.cpu.start(f.attacker.kernel());
                    f.hv.hypercall(f.cpu, op, a0, a1, a2, a3);
                    break;
                }
                case VMEXIT: {
                    int k = in.below(3);
                    int reason = k == 0 ? VmExit.MMIO_WRITE : k == 1 ? VmExit.START_IO : in.i32();
                    long qualification = in.below(2) == 0 ? in.below(8) - 1 : f.argument(in);
                    long value = f.argument(in);
                    f.cpu.start(f.attacker.kernel());
                    f.hv.vmexit(f.cpu, reason, qualification, value);
                    break;
                }
                case STORE: {
                    long gpa = f.argument(in);
                    FuzzChecks.store(f.cpu, f.attacker, gpa, in.bytes(512));
                    break;
                }
                case RECORD:
                    f.record(in);
                    break;
                case USER_HYPERCALL:
                    // A hypercall from the attacker's user level is refused outright.
                    f.cpu.start(f.attacker.app());
                    assertEquals(-Errno.EPERM, f.hv.hypercall(f.cpu, f.op(in), f.argument(in), 0, 0, 0));
                    break;
                default:
                    FuzzChecks.runUntilIdle(f.path, f.executor);
            }
        }
        FuzzChecks.runUntilIdle(f.path, f.executor);

        f.guard.assertUnchanged("after the attacker's turn");
        FuzzChecks.auditHypervisor(f.hv, f.path.cpus());
        assertNull(f.grants.audit(), "grant maptrack and pins");
        for (int ref = 1; ref <= 3; ref++) {
            int word = f.dom0Grants.word(ref);
            assertEquals(f.dom0Words[ref], word & ~GrantEntry.IN_USE, "dom0's grant " + ref + " as dom0 wrote it");
            assertEquals(f.grants.pins(f.dom0, ref, false) > 0, (word & GrantEntry.READING) != 0, "grant " + ref + " reading while pinned");
            assertEquals(f.grants.pins(f.dom0, ref, true) > 0, (word & GrantEntry.WRITING) != 0, "grant " + ref + " writing while pinned");
        }
        assertEquals(0, f.grants.pins(f.dom0, REF_GUEST, false), "a grant to the guest is never pinned by the attacker");
        Iommu iommu = f.machine.iommu();
        PageWalker.visit(f.memory, iommu.tableRoot(Machine.BLOCK_DEVICE_ID), iommu.tableLevels(Machine.BLOCK_DEVICE_ID),
            (iova, t) -> assertTrue(f.machine.frames().owner(Translation.pageBase(t) >>> 12) >= FrameAllocator.OWNER_IO,
                "once idle, the in-hypervisor driver's I/O table reaches only its own queues, no guest page (I/O address 0x"
                    + Long.toHexString(iova) + ")"));

        FuzzChecks.goodGuestIo(f.good, f.goodWrite, f.goodRead, 4096, 8192, input.length);
        f.snapshot();
    }
}
