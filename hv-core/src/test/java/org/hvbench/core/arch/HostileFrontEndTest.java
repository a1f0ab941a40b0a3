package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Store;
import org.hvbench.core.hv.AccessControl;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.FrontRing;
import org.hvbench.core.ring.SharedRing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A hostile front end talks to the same back end as a well-behaved guest. Every spoiled request is
 * answered with its errno on the hostile ring, a runaway producer stops only that ring, a request
 * rewritten after the back end took it has no effect, and neither the other domains' frames nor
 * the disk outside the attacker's virtual disk change; the well-behaved guest's I/O stays exact.
 */
class HostileFrontEndTest {
    private static final long DISK_BYTES = 8L << 20;
    private static final long HALF = DISK_BYTES / 512 / 2;

    private IoPath path;
    private IoPartitionPlacement placement;
    private Hypervisor hv;
    private Cpu cpu;
    private Domain attacker;
    private DomainMemory memory;
    private GrantTable grants;
    private FrontRing ring;
    private int port;
    private long dataGpa;
    private int dataRef;
    private MachineMemory machineMemory;

    /** Sectors of the attacker's virtual disk, from sector HALF of the real one. */
    private long extentSectors = HALF;

    private void boot(GrantMode mode) {
        path = Placement.IO_PARTITION.open(MachineConfig.defaults().memory(96L << 20).diskBytes(DISK_BYTES), 4, mode);
        placement = (IoPartitionPlacement) path;
        hv = placement.hypervisor();
        cpu = path.cpu();
        machineMemory = path.machine().memory();
        IoDriver good = new IoDriver(path);
        byte[] known = new byte[64 << 10];
        new Random(1).nextBytes(known);
        assertEquals(known.length, good.write(0, good.buffer(known.length, 0), known));

        attacker = hv.createDomain("attacker", "attacker", 2L << 20, false);
        memory = new DomainMemory(attacker, machineMemory);
        cpu.start(attacker.kernel());
        EventDispatcher events = new EventDispatcher(hv, attacker, machineMemory, cpu.view(attacker.space()),
            attacker.sharedInfoGpa(), 4);
        attacker.setVirqHandler(events);
        grants = new GrantTable(machineMemory, cpu.view(attacker.space()), memory.allocate(1), 1);
        assertTrue(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, grants.tableGpa(), 1, 0) > 0);
        long ringGpa = memory.allocate(1);
        ring = new FrontRing(machineMemory, cpu.view(attacker.space()), ringGpa, BlockProtocol.REQUEST_BYTES, true, 0);
        int ringRef = grants.allocate();
        grants.grant(ringRef, placement.partition().id(), ringGpa >>> 12, false);
        port = (int) hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, placement.partition().id(), 0, 0);
        dataGpa = memory.allocate(1);
        byte[] junk = new byte[4096];
        new Random(2).nextBytes(junk);
        memory.hostWrite(dataGpa, junk, 0, junk.length);
        dataRef = grants.allocate();
        grants.grant(dataRef, placement.partition().id(), dataGpa >>> 12, false);

        Store store = placement.store();
        String dir = Store.vbd(attacker.id());
        store.write(dir + "ring-ref", ringRef);
        store.write(dir + "event-channel", port);
        store.write(dir + "grant-mode", mode.ordinal());
        cpu.start(placement.partition().kernel());
        placement.back().connect(cpu, attacker, HALF, extentSectors);
        cpu.start(path.app().kernel().appContext());
    }

    @AfterEach
    void close() {
        if (path != null) {
            path.close();
        }
    }

    /** Every frame but the attacker's and the serving partition's (its private pages change as it works). */
    private MachineSnapshot snapshot() {
        return MachineSnapshot.of(path.machine(), new int[] {attacker.id(), placement.partition().id()}, HALF * 512, DISK_BYTES);
    }

    /** Writes a valid one-page read of the attacker's data page into the next slot, spoiled by {@code spoil}. */
    private long request(int op, Consumer<Long> spoil) {
        long req = ring.nextRequest();
        machineMemory.putByte(req + BlockProtocol.OPERATION, (byte) op);
        machineMemory.putByte(req + BlockProtocol.NR_SEGMENTS, (byte) 1);
        machineMemory.putLong(req + BlockProtocol.ID, 77);
        machineMemory.putLong(req + BlockProtocol.SECTOR, 16);
        long seg = req + BlockProtocol.segmentOffset(0);
        machineMemory.putInt(seg + BlockProtocol.SEGMENT_REF, dataRef);
        machineMemory.putByte(seg + BlockProtocol.SEGMENT_FIRST_SECT, (byte) 0);
        machineMemory.putByte(seg + BlockProtocol.SEGMENT_LAST_SECT, (byte) 7);
        spoil.accept(req);
        ring.produced();
        return req;
    }

    /** Publishes, sends the event as the attacker's kernel, runs the machine; returns the last response's status. */
    private int pushAndRun() {
        ring.pushRequestsAndCheckNotify();
        cpu.start(attacker.kernel());
        hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0, 0);
        cpu.start(path.app().kernel().appContext());
        new InlineExecutor(path).runUntilIdle();
        int n = ring.unconsumedResponses();
        assertTrue(n >= 1, "the attacker got a response");
        long rsp = ring.response(n - 1);
        ring.consumedResponses(n);
        assertEquals(77, machineMemory.getLong(rsp + BlockProtocol.RESPONSE_ID));
        return machineMemory.getShort(rsp + BlockProtocol.RESPONSE_STATUS);
    }

    private void wellBehavedGuestStillWorks() {
        IoDriver good = new IoDriver(path);
        byte[] data = new byte[12288];
        new Random(3).nextBytes(data);
        assertEquals(data.length, good.write(1 << 20, good.buffer(data.length, 512), data));
        assertArrayEquals(data, good.read(1 << 20, good.buffer(data.length, 0), data.length));
    }

    static Stream<Arguments> spoiled() {
        int seg0 = BlockProtocol.segmentOffset(0);
        Stream.Builder<Arguments> cases = Stream.builder();
        for (GrantMode mode : GrantMode.values()) {
            cases.add(Arguments.of(mode, "sector range beyond the device", Errno.ENOSPC,
                (Consumer<Long>) r -> putLong(r + BlockProtocol.SECTOR, HALF - 4)));
            cases.add(Arguments.of(mode, "twelve segments", Errno.EINVAL,
                (Consumer<Long>) r -> putByte(r + BlockProtocol.NR_SEGMENTS, 12)));
            cases.add(Arguments.of(mode, "first_sect > last_sect", Errno.EINVAL, (Consumer<Long>) r -> {
                putByte(r + seg0 + BlockProtocol.SEGMENT_FIRST_SECT, 6);
                putByte(r + seg0 + BlockProtocol.SEGMENT_LAST_SECT, 2);
            }));
            cases.add(Arguments.of(mode, "grant reference outside the table", Errno.EINVAL,
                (Consumer<Long>) r -> putInt(r + seg0 + BlockProtocol.SEGMENT_REF, 100_000)));
            cases.add(Arguments.of(mode, "grant never made", Errno.EACCES,
                (Consumer<Long>) r -> putInt(r + seg0 + BlockProtocol.SEGMENT_REF, 300)));
            cases.add(Arguments.of(mode, "unknown operation", Errno.EOPNOTSUPP,
                (Consumer<Long>) r -> putByte(r + BlockProtocol.OPERATION, 9)));
        }
        return cases.build();
    }

    private static MachineMemory current;

    private static void putLong(long ma, long v) {
        current.putLong(ma, v);
    }

    private static void putInt(long ma, int v) {
        current.putInt(ma, v);
    }

    private static void putByte(long ma, int v) {
        current.putByte(ma, (byte) v);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("spoiled")
    void aSpoiledRequestIsAnsweredWithItsErrno(GrantMode mode, String what, int errno, Consumer<Long> spoil) {
        boot(mode);
        current = machineMemory;
        for (int op : new int[] {BlockProtocol.OP_READ, BlockProtocol.OP_WRITE}) {
            MachineSnapshot before = snapshot();
            request(op, spoil);
            assertEquals(-errno, pushAndRun(), what);
            before.assertUnchanged(path.machine(), what);
        }
        current = machineMemory;
        assertEquals(0, pushAndRunGood(), "the attacker's own valid request still works");
        wellBehavedGuestStillWorks();
    }

    private int pushAndRunGood() {
        request(BlockProtocol.OP_READ, r -> { });
        return pushAndRun();
    }

    @ParameterizedTest
    @EnumSource(GrantMode.class)
    void aGrantToAnotherDomainIsRefused(GrantMode mode) {
        boot(mode);
        int ref = grants.allocate();
        grants.grant(ref, hv.dom0().id(), dataGpa >>> 12, false);
        current = machineMemory;
        MachineSnapshot before = snapshot();
        request(BlockProtocol.OP_READ, r -> putInt(r + BlockProtocol.segmentOffset(0) + BlockProtocol.SEGMENT_REF, ref));
        assertEquals(-Errno.EACCES, pushAndRun());
        before.assertUnchanged(path.machine(), "grant for dom0");
        wellBehavedGuestStillWorks();
    }

    @ParameterizedTest
    @EnumSource(GrantMode.class)
    void aRunawayProducerStopsOnlyThatRing(GrantMode mode) {
        boot(mode);
        MachineSnapshot before = snapshot();
        long page = ring.nextRequest() & ~MachineMemory.PAGE_MASK;
        machineMemory.putIntRelease(page + SharedRing.REQ_PROD, 1000);
        cpu.start(attacker.kernel());
        hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0, 0);
        cpu.start(path.app().kernel().appContext());
        new InlineExecutor(path).runUntilIdle();
        assertTrue(placement.back().broken(attacker));
        before.assertUnchanged(path.machine(), "runaway producer");
        wellBehavedGuestStillWorks();
        assertTrue(!placement.back().broken(placement.guest()));
    }

    @ParameterizedTest
    @EnumSource(value = GrantMode.class, names = {"MAP", "PERSISTENT"})
    void aRequestRewrittenAfterTheBackEndTookItHasNoEffect(GrantMode mode) {
        boot(mode);
        current = machineMemory;
        long[] slot = new long[1];
        int[] rewrites = new int[1];
        // The back end asks the access-control module when it maps the request's page: after it copied
        // the request, before it uses it. The attacker rewrites the request in the shared slot right then.
        hv.setAccessControl(new AccessControl() {
            @Override
            public int grantMap(Domain m, Domain g) {
                if (g == attacker && slot[0] != 0) {
                    machineMemory.putLong(slot[0] + BlockProtocol.SECTOR, HALF - 1);
                    machineMemory.putByte(slot[0] + BlockProtocol.OPERATION, (byte) BlockProtocol.OP_WRITE);
                    rewrites[0]++;
                }
                return 0;
            }
        });
        byte[] diskBefore = new byte[4096];
        path.machine().backing().peek((HALF + 16) * 512, diskBefore, 0, 4096);
        MachineSnapshot before = snapshot();
        slot[0] = request(BlockProtocol.OP_READ, r -> { });
        if (mode == GrantMode.PERSISTENT) {
            // A persistent back end asks only on the first use of a page: use a page it has not seen.
            int fresh = grants.allocate();
            grants.grant(fresh, placement.partition().id(), dataGpa >>> 12, false);
            putInt(slot[0] + BlockProtocol.segmentOffset(0) + BlockProtocol.SEGMENT_REF, fresh);
        }
        assertEquals(0, pushAndRun(), "the back end did the read it checked");
        assertEquals(1, rewrites[0], "the rewrite happened while the back end worked");
        assertArrayEquals(diskBefore, readAttackerDisk(HALF + 16), "no write reached the disk");
        assertArrayEquals(memory.hostRead(dataGpa, 4096), diskBefore, "the read brought the original sector 16");
        before.assertUnchanged(path.machine(), "double fetch");
        wellBehavedGuestStillWorks();
    }

    private byte[] readAttackerDisk(long sector) {
        byte[] b = new byte[4096];
        path.machine().backing().peek(sector * 512, b, 0, 4096);
        return b;
    }

    @ParameterizedTest
    @EnumSource(GrantMode.class)
    void aRequestOneSectorPastAnExtentThatEndsBeforeTheDiskIsRefusedByTheBackEnd(GrantMode mode) {
        // The extent ends 64 sectors before the disk does: the device's own bound cannot catch a request
        // that runs one sector past the extent, only the back end's sector-range check can.
        extentSectors = HALF - 64;
        boot(mode);
        current = machineMemory;
        for (int op : new int[] {BlockProtocol.OP_READ, BlockProtocol.OP_WRITE}) {
            request(op, r -> putLong(r + BlockProtocol.SECTOR, extentSectors - 7));
            assertEquals(-Errno.ENOSPC, pushAndRun(), "eight sectors whose last is the first past the extent");
        }
        request(BlockProtocol.OP_READ, r -> putLong(r + BlockProtocol.SECTOR, extentSectors - 8));
        assertEquals(0, pushAndRun(), "the extent's last eight sectors are the attacker's to read");
        wellBehavedGuestStillWorks();
    }
}
