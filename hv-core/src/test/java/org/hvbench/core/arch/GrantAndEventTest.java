package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.AccessControl;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Grant tables and event channels through their hypercalls, between two domains. */
class GrantAndEventTest {
    private Machine machine;
    private Hypervisor hv;
    private Cpu cpu;
    private Domain granter;
    private Domain mapper;
    private DomainMemory granterMemory;
    private DomainMemory mapperMemory;
    private GrantTable table;
    private GrantOps grants;
    private EventChannels channels;

    @BeforeEach
    void boot() {
        // Tagged TLB: entries survive the crossings into the hypervisor and back, so only unmap's own flush
        // can drop the mapper's cached translation of a grant (unmapFlushesTheMappersTlbEntryForTheHostPage).
        machine = new Machine(MachineConfig.defaults().memory(32L << 20).tlbTagged(true));
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        grants = new GrantOps(hv);
        channels = new EventChannels(hv);
        granter = hv.createDomain("granter", "a", 1L << 20, false);
        mapper = hv.createDomain("mapper", "b", 1L << 20, false);
        granterMemory = new DomainMemory(granter, machine.memory());
        mapperMemory = new DomainMemory(mapper, machine.memory());
        table = new GrantTable(machine.memory(), cpu.view(granter.space()), granterMemory.allocate(1), 1);
        assertEquals(GrantEntry.PER_PAGE, as(granter, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, table.tableGpa(), 1));
    }

    @AfterEach
    void close() {
        machine.close();
    }

    private long as(Domain d, int op, long a0, long a1, long a2) {
        cpu.start(d.kernel());
        return hv.hypercall(cpu, op, a0, a1, a2, 0);
    }

    /** One map operation from {@code mapper}: handle or negative status. */
    private long map(int ref, long host, boolean readonly) {
        long ops = mapperMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.MAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.MAP_HOST, host).putInt(GrantOps.MAP_FLAGS, readonly ? GrantOps.MAP_READONLY : 0)
            .putInt(GrantOps.MAP_REF, ref).putShort(GrantOps.MAP_DOM, (short) granter.id());
        mapperMemory.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, ops, 1));
        ByteBuffer back = ByteBuffer.wrap(mapperMemory.hostRead(ops, GrantOps.MAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        short status = back.getShort(GrantOps.MAP_STATUS);
        return status < 0 ? status : back.getInt(GrantOps.MAP_HANDLE);
    }

    private long unmap(long host, long handle) {
        long ops = mapperMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.UNMAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.UNMAP_HOST, host).putInt(GrantOps.UNMAP_HANDLE, (int) handle);
        mapperMemory.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_UNMAP, ops, 1));
        return ByteBuffer.wrap(mapperMemory.hostRead(ops, GrantOps.UNMAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN)
            .getShort(GrantOps.UNMAP_STATUS);
    }

    @Test
    void aMappedGrantShowsTheGrantersBytesAndCannotBeRevokedUntilUnmapped() {
        long page = granterMemory.allocate(1);
        byte[] data = new byte[4096];
        new Random(1).nextBytes(data);
        granterMemory.hostWrite(page, data, 0, data.length);
        int ref = table.allocate();
        assertEquals(0, table.grant(ref, mapper.id(), page >>> 12, false));
        long host = mapper.windowStart();
        long handle = map(ref, host, false);
        assertTrue(handle >= 0, "mapped: " + handle);
        assertArrayEquals(data, mapperMemory.hostRead(host, 4096), "the mapper sees the granted frame");
        assertTrue((GrantEntry.flags(table.word(ref)) & GrantEntry.IN_USE) != 0, "in use while mapped");
        assertEquals(-Errno.EBUSY, table.revoke(ref), "revocation while mapped fails");
        assertEquals(GrantEntry.PERMIT_ACCESS, GrantEntry.flags(table.word(ref)) & GrantEntry.TYPE_MASK, "the entry is kept");
        assertEquals(0, unmap(host, handle));
        assertEquals(-Errno.EFAULT, mapper.space().table().translate(host), "unmapped");
        assertEquals(0, table.revoke(ref), "revocation after unmap");
        assertEquals(0, table.word(ref));
        assertEquals(-Errno.EACCES, map(ref, host, true), "a revoked grant cannot be mapped");
    }

    @Test
    void aReadOnlyGrantIsRefusedForWritingAndOtherDomainsCannotUseIt() {
        long page = granterMemory.allocate(1);
        int ref = table.allocate();
        table.grant(ref, mapper.id(), page >>> 12, true);
        long host = mapper.windowStart();
        assertEquals(-Errno.EPERM, map(ref, host, false), "read-only grant mapped for writing");
        long handle = map(ref, host, true);
        assertTrue(handle >= 0, "read-only mapping of a read-only grant");
        assertEquals(-Errno.EACCES, map(ref + 1, host + 4096, true), "an entry never granted");
        assertEquals(-Errno.EINVAL, map(GrantEntry.PER_PAGE + 5, host + 8192, true), "reference outside the table");
        assertEquals(-Errno.EINVAL, map(ref, 4096, true), "host address outside the mapping window");
        Domain third = hv.createDomain("third", "c", 1L << 20, false);
        int ref2 = table.allocate();
        table.grant(ref2, third.id(), page >>> 12, true);
        assertEquals(-Errno.EACCES, map(ref2, host + 12288, true), "granted to another domain");
        assertEquals(0, unmap(host, handle));
    }

    /**
     * The finding of GrantFuzzTest (crash-f35a0753): a map whose operation lies at a gpa above any the
     * mapper's table covers, whose low bits name a page the CPU's TLB holds (here the multicall's own
     * page, read just before), is refused like any other unreachable operation. It used to hit that
     * page's TLB entry: the map was made and its handle written where no walk of the mapper's table
     * finds it, so the same call failed or pinned the granter's grant depending on the TLB's contents.
     */
    @Test
    void aMapWhoseOperationLiesAboveTheAddressSpaceIsRefusedWhateverTheTlbHolds() {
        long page = granterMemory.allocate(1);
        int ref = table.allocate();
        assertEquals(0, table.grant(ref, mapper.id(), page >>> 12, false));
        long host = mapper.windowStart();
        long calls = mapperMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.MAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.MAP_HOST, host).putInt(GrantOps.MAP_REF, ref).putShort(GrantOps.MAP_DOM, (short) granter.id())
            .putShort(GrantOps.MAP_STATUS, (short) 0x7FFF).putInt(GrantOps.MAP_HANDLE, -1);
        mapperMemory.hostWrite(calls, op.array(), 0, op.capacity());
        long alias = 1L << 58 | calls;
        long entry = calls + 2048;
        ByteBuffer call = ByteBuffer.allocate(Hypercall.MULTICALL_ENTRY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        call.putLong(Hypercall.MULTICALL_OP, Hypercall.GRANT_TABLE_OP).putLong(Hypercall.MULTICALL_ARGS, Hypercall.GNTTAB_MAP)
            .putLong(Hypercall.MULTICALL_ARGS + 8, alias).putLong(Hypercall.MULTICALL_ARGS + 16, 1);
        mapperMemory.hostWrite(entry, call.array(), 0, call.capacity());
        assertEquals(0, as(mapper, Hypercall.MULTICALL, entry, 1, 0));
        long result = ByteBuffer.wrap(mapperMemory.hostRead(entry, Hypercall.MULTICALL_ENTRY_BYTES)).order(ByteOrder.LITTLE_ENDIAN)
            .getLong(Hypercall.MULTICALL_RESULT);
        assertEquals(-Errno.EFAULT, result, "a map operation at 0x" + Long.toHexString(alias));
        assertEquals(0, grants.mappings(mapper), "nothing mapped");
        assertEquals(-Errno.EFAULT, mapper.space().table().translate(host), "the window page is empty");
        assertEquals(0, grants.pinned(granter), "the grant is not pinned");
        assertEquals(0x7FFF, ByteBuffer.wrap(mapperMemory.hostRead(calls, GrantOps.MAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN)
            .getShort(GrantOps.MAP_STATUS), "nothing written at the page the low bits name");
        assertEquals(0, table.revoke(ref), "the granter revokes its grant");
    }

    @Test
    void copyMovesExactlyTheBytesAsked() {
        long src = granterMemory.allocate(1);
        long dst = mapperMemory.allocate(1);
        byte[] data = new byte[4096];
        new Random(2).nextBytes(data);
        granterMemory.hostWrite(src, data, 0, data.length);
        byte[] before = mapperMemory.hostRead(dst, 4096);
        int ref = table.allocate();
        table.grant(ref, mapper.id(), src >>> 12, true);
        long ops = mapperMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.COPY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putInt(GrantOps.COPY_SRC_REF, ref).putShort(GrantOps.COPY_SRC_DOM, (short) granter.id())
            .putShort(GrantOps.COPY_SRC_OFFSET, (short) 100)
            .putInt(GrantOps.COPY_DST_REF, (int) (dst >>> 12)).putShort(GrantOps.COPY_DST_DOM, (short) mapper.id())
            .putShort(GrantOps.COPY_DST_OFFSET, (short) 300).putShort(GrantOps.COPY_LENGTH, (short) 1000)
            .putShort(GrantOps.COPY_FLAGS, (short) GrantOps.COPY_SOURCE_GREF);
        mapperMemory.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, ops, 1));
        assertEquals(0, ByteBuffer.wrap(mapperMemory.hostRead(ops, GrantOps.COPY_BYTES)).order(ByteOrder.LITTLE_ENDIAN)
            .getShort(GrantOps.COPY_STATUS));
        byte[] after = mapperMemory.hostRead(dst, 4096);
        for (int i = 0; i < 4096; i++) {
            byte expected = i >= 300 && i < 1300 ? data[i - 300 + 100] : before[i];
            assertEquals(expected, after[i], "byte " + i);
        }
        assertEquals(0, table.revoke(ref), "the copy left no pin behind");
        // Writing through a read-only grant, and past the page, are refused.
        op.putShort(GrantOps.COPY_FLAGS, (short) GrantOps.COPY_DEST_GREF).putInt(GrantOps.COPY_DST_REF, ref)
            .putShort(GrantOps.COPY_DST_DOM, (short) granter.id()).putInt(GrantOps.COPY_SRC_REF, (int) (dst >>> 12))
            .putShort(GrantOps.COPY_SRC_DOM, (short) mapper.id());
        table.grant(ref, mapper.id(), src >>> 12, true);
        mapperMemory.hostWrite(ops, op.array(), 0, op.capacity());
        as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, ops, 1);
        assertEquals(-Errno.EPERM, ByteBuffer.wrap(mapperMemory.hostRead(ops, GrantOps.COPY_BYTES))
            .order(ByteOrder.LITTLE_ENDIAN).getShort(GrantOps.COPY_STATUS));
        assertArrayEquals(data, granterMemory.hostRead(src, 4096), "the granter's page is unchanged");
    }

    @Test
    void eventsCoalesceWaitBehindAMaskAndAreRaisedAgainOnUnmask() {
        int[] seen = new int[1];
        EventDispatcher mapperEvents = new EventDispatcher(hv, mapper, machine.memory(), cpu.view(mapper.space()),
            mapper.sharedInfoGpa(), 4);
        mapper.setVirqHandler(mapperEvents);
        long unbound = as(mapper, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, granter.id(), 0);
        assertTrue(unbound > 0);
        mapperEvents.bind((int) unbound, (c, port) -> seen[0]++);
        long port = as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, mapper.id(), unbound);
        assertTrue(port > 0);
        assertEquals(0, as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0));
        assertEquals(1, seen[0], "the mapper ran its handler at once (it was waiting)");
        mapperEvents.mask((int) unbound);
        as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0);
        as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0);
        assertEquals(1, seen[0], "masked: pending, no upcall");
        assertEquals(1, channels.coalesced(), "the second send found the port already pending");
        cpu.start(mapper.kernel());
        assertEquals(0, mapperEvents.unmask(cpu, (int) unbound));
        assertEquals(2, seen[0], "unmask re-raised the event that waited: one delivery for two sends");
        assertEquals(-Errno.EINVAL, as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, 999, 0), "unbound port");
        assertEquals(0, as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_CLOSE, port, 0));
        assertEquals(-Errno.EINVAL, as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0), "closed");
    }

    @Test
    void bindingAndMappingAskTheAccessControlModule() {
        hv.setAccessControl(new AccessControl() {
            @Override
            public int eventChannelBind(Domain a, Domain b) {
                return -Errno.EACCES;
            }

            @Override
            public int grantMap(Domain m, Domain g) {
                return -Errno.EACCES;
            }
        });
        long unbound = as(mapper, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, granter.id(), 0);
        assertEquals(-Errno.EACCES, as(granter, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, mapper.id(), unbound));
        long page = granterMemory.allocate(1);
        int ref = table.allocate();
        table.grant(ref, mapper.id(), page >>> 12, false);
        assertEquals(-Errno.EACCES, map(ref, mapper.windowStart(), false));
        assertEquals(0, grants.pinned(granter), "a refused map pins nothing");
    }

    @Test
    void onlyAPrivilegedDomainMapsForeignFramesByNumber() {
        long ops = mapperMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.MAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.MAP_HOST, mapper.windowStart()).putInt(GrantOps.MAP_FLAGS, GrantOps.MAP_FOREIGN)
            .putInt(GrantOps.MAP_REF, 3).putShort(GrantOps.MAP_DOM, (short) granter.id());
        mapperMemory.hostWrite(ops, op.array(), 0, op.capacity());
        as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, ops, 1);
        assertEquals(-Errno.EPERM, ByteBuffer.wrap(mapperMemory.hostRead(ops, GrantOps.MAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN)
            .getShort(GrantOps.MAP_STATUS));
        assertEquals(-Errno.EFAULT, mapper.space().table().translate(mapper.windowStart()), "nothing was mapped");
    }

    @Test
    void revocationFailsWhileOnlyWritingIsSet() {
        // Revoke's contract is "neither READING nor WRITING": each bit alone must keep the entry.
        long page = granterMemory.allocate(1);
        int ref = table.allocate();
        assertEquals(0, table.grant(ref, mapper.id(), page >>> 12, false));
        long entryMa = granterMemory.hostTranslate(table.tableGpa()) + (long) ref * GrantEntry.BYTES;
        assertEquals(0, GrantEntry.pin(machine.memory(), entryMa, mapper.id(), true));
        assertTrue(GrantEntry.clear(machine.memory(), entryMa, GrantEntry.READING));
        assertEquals(GrantEntry.WRITING, GrantEntry.flags(table.word(ref)) & GrantEntry.IN_USE, "WRITING alone is set");
        assertEquals(-Errno.EBUSY, table.revoke(ref), "a frame being written cannot be revoked");
        assertEquals(GrantEntry.PERMIT_ACCESS, GrantEntry.flags(table.word(ref)) & GrantEntry.TYPE_MASK, "the entry is kept");
        assertTrue(GrantEntry.clear(machine.memory(), entryMa, GrantEntry.WRITING));
        assertEquals(0, GrantEntry.pin(machine.memory(), entryMa, mapper.id(), false));
        assertEquals(GrantEntry.READING, GrantEntry.flags(table.word(ref)) & GrantEntry.IN_USE, "READING alone is set");
        assertEquals(-Errno.EBUSY, table.revoke(ref), "a frame being read cannot be revoked");
        assertTrue(GrantEntry.clear(machine.memory(), entryMa, GrantEntry.READING));
        assertEquals(0, table.revoke(ref), "neither bit set: revoked");
    }

    @Test
    void unmapFlushesTheMappersTlbEntryForTheHostPage() {
        long page = granterMemory.allocate(1);
        int ref = table.allocate();
        assertEquals(0, table.grant(ref, mapper.id(), page >>> 12, false));
        long host = mapper.windowStart();
        long handle = map(ref, host, false);
        assertTrue(handle >= 0, "mapped: " + handle);
        long granted = granterMemory.hostTranslate(page);
        assertEquals(granted, cpu.translate(mapper.space(), host, Translation.READ), "the mapper reaches the granted frame");
        assertEquals(Translation.machineAddress(cpu.tlb().lookup(mapper.space().asid(), host), host), granted,
            "the translation is cached in the TLB");
        assertEquals(0, unmap(host, handle));
        assertEquals(Tlb.MISS, cpu.tlb().lookup(mapper.space().asid(), host), "unmap dropped the cached translation");
        assertEquals(-Errno.EFAULT, cpu.translate(mapper.space(), host, Translation.READ),
            "after unmap the mapper cannot reach the frame through a stale TLB entry");
        assertEquals(0, table.revoke(ref));
    }

}
