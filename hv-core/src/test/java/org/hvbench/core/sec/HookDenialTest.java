package org.hvbench.core.sec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.AccessControl;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.HypervisorBlockDriver;
import org.hvbench.core.hv.VmExit;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every sHype hook refused through the real operation that asks it (hypercalls with their operation
 * structs in guest memory, the toolstack's device assignment), under the CUSTOMERS policy: customer A
 * and customer C share no STE type, the partition holds A, B and C. Each refusal must report its code
 * and leave no trace (no mapping, no pin, no port, no connection, no IOMMU context, no byte moved), and
 * each test has a permitted control so that it fails when the hook is not asked or not obeyed.
 *
 * <p>Status codes: the grant operations write a negative errno of {@link Errno} into the op's status
 * field, not Xen's {@code GNTST_*} numbers. A refused map reports {@code -EACCES} (-13) where Xen's
 * {@code map_grant_ref} reports {@code GNTST_permission_denied} (-8); -13 in Xen's
 * {@code grant_table.h} is {@code GNTST_no_space}. A refused copy reports {@code -EPERM} (-1), the
 * same code as a missing domain, where Xen's {@code gnttab_copy_lock_domains} reports
 * {@code GNTST_permission_denied} (-8); -1 in Xen is {@code GNTST_general_error}. The tests assert the
 * codes the model uses today.
 */
class HookDenialTest {
    private static final int BLOCK_VECTOR = 32;
    private static final int PAGE = 4096;

    private Machine machine;
    private Hypervisor hv;
    private Cpu cpu;
    private GrantOps grants;
    private EventChannels channels;
    private AccessControlModule acm;
    /** Customer A, customer C (no STE type in common) and the partition that serves both. */
    private Domain a;
    private Domain c;
    private Domain partition;
    private DomainMemory aMemory;
    private DomainMemory cMemory;
    private DomainMemory partitionMemory;
    /** Customer C's grant table, registered with GNTTAB_SETUP. */
    private GrantTable cTable;

    @BeforeEach
    void boot() {
        machine = new Machine(MachineConfig.defaults().memory(64L << 20));
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        grants = new GrantOps(hv);
        channels = new EventChannels(hv);
        acm = new AccessControlModule(customers());
        acm.install(hv, hv.dom0());
        a = hv.createDomain("customer-a", "A", 1L << 20, false);
        c = hv.createDomain("customer-c", "C", 1L << 20, false);
        partition = hv.createDomain("partition", "partition", 1L << 20, true);
        aMemory = new DomainMemory(a, machine.memory());
        cMemory = new DomainMemory(c, machine.memory());
        partitionMemory = new DomainMemory(partition, machine.memory());
        cTable = new GrantTable(machine.memory(), cpu.view(c.space()), cMemory.allocate(1), 1);
        assertEquals(GrantEntry.PER_PAGE, as(c, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, cTable.tableGpa(), 1));
        // The premise of every test: the policy refuses A with C and permits the partition with both.
        Policy p = acm.policy();
        assertFalse(p.mayShare(p.label("A"), p.label("C")));
        assertTrue(p.mayShare(p.label("partition"), p.label("C")));
        assertTrue(p.mayShare(p.label("partition"), p.label("A")));
    }

    @AfterEach
    void shutdown() {
        machine.close();
    }

    private static Policy customers() {
        return compile(PolicyCompilerTest.CUSTOMERS);
    }

    /** A policy that permits everything: the same operation must then go through. */
    private static Policy open() {
        return compile("policy open\nkind null\n");
    }

    private static Policy compile(String source) {
        try {
            return PolicyCompiler.compile(source);
        } catch (PolicyException e) {
            throw new AssertionError(e);
        }
    }

    private long as(Domain d, int op, long a0, long a1, long a2) {
        return as(d, op, a0, a1, a2, 0);
    }

    private long as(Domain d, int op, long a0, long a1, long a2, long a3) {
        cpu.start(d.kernel());
        return hv.hypercall(cpu, op, a0, a1, a2, a3);
    }

    private long vmexit(Domain d, int reason, long qualification, long value) {
        cpu.start(d.kernel());
        return hv.vmexit(cpu, reason, qualification, value);
    }

    private static DomainMemory memoryOf(Domain d, DomainMemory... all) {
        for (DomainMemory m : all) {
            if (m.domain() == d) {
                return m;
            }
        }
        throw new AssertionError("no memory for " + d);
    }

    private DomainMemory memoryOf(Domain d) {
        return memoryOf(d, aMemory, cMemory, partitionMemory);
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[PAGE];
        new Random(seed).nextBytes(b);
        return b;
    }

    private long pageFilled(DomainMemory m, long seed) {
        long page = m.allocate(1);
        m.hostWrite(page, pattern(seed), 0, PAGE);
        return page;
    }

    // ------------------------------------------------------------------ grant map (GNTTAB_MAP)

    /**
     * One map operation of {@code mapper}, written in its memory and run by GNTTAB_MAP: the handle, or
     * the negative status the hypervisor wrote back.
     */
    private long map(Domain mapper, Domain granter, int ref, long host, int flags) {
        DomainMemory m = memoryOf(mapper);
        long ops = m.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.MAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.MAP_HOST, host).putInt(GrantOps.MAP_FLAGS, flags).putInt(GrantOps.MAP_REF, ref)
            .putShort(GrantOps.MAP_DOM, (short) granter.id()).putShort(GrantOps.MAP_STATUS, (short) 0x7FFF)
            .putInt(GrantOps.MAP_HANDLE, 0x5A5A5A5A);
        m.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, ops, 1), "the batch itself is taken");
        ByteBuffer back = ByteBuffer.wrap(m.hostRead(ops, GrantOps.MAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        short status = back.getShort(GrantOps.MAP_STATUS);
        if (status < 0) {
            assertEquals(-1, back.getInt(GrantOps.MAP_HANDLE), "a refused map hands out no handle");
            return status;
        }
        assertEquals(0, status);
        return back.getInt(GrantOps.MAP_HANDLE);
    }

    private long unmap(Domain mapper, long host, long handle) {
        DomainMemory m = memoryOf(mapper);
        long ops = m.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.UNMAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.UNMAP_HOST, host).putInt(GrantOps.UNMAP_HANDLE, (int) handle);
        m.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(mapper, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_UNMAP, ops, 1));
        return ByteBuffer.wrap(m.hostRead(ops, GrantOps.UNMAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN).getShort(GrantOps.UNMAP_STATUS);
    }

    /** Nothing of a refused map of grant {@code ref} of {@code granter} at {@code host} of {@code mapper} is left. */
    private void assertNothingMapped(Domain mapper, Domain granter, GrantTable table, int ref, long host, String what) {
        assertTrue(mapper.space().table().translate(host) < 0, what + ": the mapper's window page is still empty");
        assertTrue(cpu.translate(mapper.space(), host, Translation.READ) < 0, what + ": the mapper's CPU reaches nothing there");
        assertEquals(0, grants.mappings(mapper), what + ": the mapper holds no mapping");
        assertEquals(0, grants.pins(granter, ref, false), what + ": no reader pin on the grant");
        assertEquals(0, grants.pins(granter, ref, true), what + ": no writer pin on the grant");
        assertEquals(0, GrantEntry.flags(table.word(ref)) & GrantEntry.IN_USE, what + ": the entry is not marked READING/WRITING");
        assertNull(grants.audit(), what + ": grant bookkeeping");
        assertNull(hv.audit(), what + ": hypervisor audit");
    }

    private void grantMapBetweenCustomersIsRefused(boolean readonly) {
        String what = readonly ? "read-only map A <- C" : "read-write map A <- C";
        byte[] data = pattern(readonly ? 11 : 12);
        long page = cMemory.allocate(1);
        cMemory.hostWrite(page, data, 0, PAGE);
        int refA = cTable.allocate();
        int refP = cTable.allocate();
        assertEquals(0, cTable.grant(refA, a.id(), page >>> 12, readonly));
        assertEquals(0, cTable.grant(refP, partition.id(), page >>> 12, readonly));
        int flags = readonly ? GrantOps.MAP_READONLY : 0;
        long host = a.windowStart();
        long mappedBefore = grants.mapped();
        long refusedBefore = grants.refused();

        assertEquals(-Errno.EACCES, map(a, c, refA, host, flags), what);
        assertNothingMapped(a, c, cTable, refA, host, what);
        assertEquals(0, grants.pinned(c), what + ": no frame of the granter is pinned");
        assertEquals(0, grants.mappingsOf(c.id()), what + ": nobody maps a frame of the granter");
        assertEquals(mappedBefore, grants.mapped(), what + ": counted as no map");
        assertEquals(refusedBefore + 1, grants.refused(), what + ": counted as a refusal");
        // Again, with the mapper's window page and the grant untouched: the refusal is stable.
        assertEquals(-Errno.EACCES, map(a, c, refA, host, flags), what + ", again");
        assertNothingMapped(a, c, cTable, refA, host, what + ", again");
        assertArrayEquals(data, cMemory.hostRead(page, PAGE), what + ": the granter's page is unchanged");

        // Control 1: the partition, whose label shares with C, maps the same frame the same way.
        long pHost = partition.windowStart();
        long handle = map(partition, c, refP, pHost, flags);
        assertTrue(handle >= 0, "partition <- C: " + handle);
        assertArrayEquals(data, partitionMemory.hostRead(pHost, PAGE), "the partition sees the granted frame");
        long t = partition.space().table().translate(pHost);
        assertTrue(t >= 0);
        assertEquals(!readonly, Translation.allows(t, Translation.WRITE), "writable exactly when asked");
        assertEquals(1, grants.mappings(partition));
        assertEquals(1, grants.pins(c, refP, false));
        assertEquals(readonly ? 0 : 1, grants.pins(c, refP, true));
        assertNull(grants.audit());
        assertNull(hv.audit());
        assertEquals(0, unmap(partition, pHost, handle));
        assertEquals(0, grants.pinned(c));

        // Control 2: the refusal was the policy's. Under a policy that lets everything share, customer A's
        // very same operation maps; back under CUSTOMERS, a new one is refused again.
        assertEquals(0, acm.load(open()));
        long aHandle = map(a, c, refA, host, flags);
        assertTrue(aHandle >= 0, what + " under the null policy: " + aHandle);
        assertArrayEquals(data, aMemory.hostRead(host, PAGE));
        assertEquals(0, unmap(a, host, aHandle));
        assertEquals(0, acm.load(customers()));
        assertEquals(-Errno.EACCES, map(a, c, refA, host, flags), what + " under CUSTOMERS again");
        assertNothingMapped(a, c, cTable, refA, host, what + " under CUSTOMERS again");
        assertEquals(0, cTable.revoke(refA), "the granter can revoke: nothing holds the grant");
        assertEquals(0, cTable.revoke(refP));
    }

    @Test
    void aReadWriteGrantMapBetweenCustomersIsRefusedAndMapsNothing() {
        grantMapBetweenCustomersIsRefused(false);
    }

    @Test
    void aReadOnlyGrantMapBetweenCustomersIsRefusedAndMapsNothing() {
        grantMapBetweenCustomersIsRefused(true);
    }

    /** The foreign map (MAP_FOREIGN, a privileged mapper naming a frame by number) asks foreignMap. */
    @Test
    void aForeignMapByAPrivilegedDomainOfAnotherCustomerIsRefused() {
        Domain emulatorA = hv.createDomain("emulator-a", "A", 1L << 20, true);
        DomainMemory emulatorMemory = new DomainMemory(emulatorA, machine.memory());
        long page = pageFilled(cMemory, 21);
        long gfn = page >>> 12;
        long host = emulatorA.windowStart();
        long ops = emulatorMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.MAP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putLong(GrantOps.MAP_HOST, host).putInt(GrantOps.MAP_FLAGS, GrantOps.MAP_FOREIGN | GrantOps.MAP_READONLY)
            .putInt(GrantOps.MAP_REF, (int) gfn).putShort(GrantOps.MAP_DOM, (short) c.id());
        emulatorMemory.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(emulatorA, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, ops, 1));
        ByteBuffer back = ByteBuffer.wrap(emulatorMemory.hostRead(ops, GrantOps.MAP_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(-Errno.EACCES, back.getShort(GrantOps.MAP_STATUS), "foreign map A <- C");
        assertTrue(emulatorA.space().table().translate(host) < 0, "nothing mapped");
        assertEquals(0, grants.mappings(emulatorA));
        assertEquals(0, grants.mappingsOf(c.id()));
        assertNull(grants.audit());
        assertNull(hv.audit());
        // Control: the partition (privileged, shares with C) maps the same frame by number.
        long handle = map(partition, c, (int) gfn, partition.windowStart(), GrantOps.MAP_FOREIGN | GrantOps.MAP_READONLY);
        assertTrue(handle >= 0, "foreign map partition <- C: " + handle);
        assertArrayEquals(pattern(21), partitionMemory.hostRead(partition.windowStart(), PAGE));
        assertNull(grants.audit());
        assertEquals(0, unmap(partition, partition.windowStart(), handle));
    }

    // ------------------------------------------------------------------ grant copy (GNTTAB_COPY)

    /** One copy operation of {@code caller}: the status the hypervisor wrote back. */
    private long copy(Domain caller, int srcRef, Domain srcDom, int dstRef, Domain dstDom, int length, int flags) {
        DomainMemory m = memoryOf(caller, aMemory, cMemory, partitionMemory);
        long ops = m.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.COPY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putInt(GrantOps.COPY_SRC_REF, srcRef).putShort(GrantOps.COPY_SRC_DOM, (short) srcDom.id())
            .putShort(GrantOps.COPY_SRC_OFFSET, (short) 0)
            .putInt(GrantOps.COPY_DST_REF, dstRef).putShort(GrantOps.COPY_DST_DOM, (short) dstDom.id())
            .putShort(GrantOps.COPY_DST_OFFSET, (short) 0).putShort(GrantOps.COPY_LENGTH, (short) length)
            .putShort(GrantOps.COPY_FLAGS, (short) flags).putShort(GrantOps.COPY_STATUS, (short) 0x7FFF);
        m.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(caller, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, ops, 1), "the batch itself is taken");
        return ByteBuffer.wrap(m.hostRead(ops, GrantOps.COPY_BYTES)).order(ByteOrder.LITTLE_ENDIAN).getShort(GrantOps.COPY_STATUS);
    }

    @Test
    void aGrantCopyBetweenCustomersIsRefusedInBothDirectionsAndMovesNoByte() {
        int length = 2048;
        long cPage = pageFilled(cMemory, 31);
        int refA = cTable.allocate();
        int refP = cTable.allocate();
        assertEquals(0, cTable.grant(refA, a.id(), cPage >>> 12, false));
        assertEquals(0, cTable.grant(refP, partition.id(), cPage >>> 12, false));
        long aPage = pageFilled(aMemory, 32);
        long copiesBefore = grants.copies();

        // From C's granted page into A's own frame.
        assertEquals(-Errno.EPERM, copy(a, refA, c, (int) (aPage >>> 12), a, length, GrantOps.COPY_SOURCE_GREF),
            "copy A <- C's grant (the status GrantOps writes for a refused side)");
        assertArrayEquals(pattern(32), aMemory.hostRead(aPage, PAGE), "A's destination is unchanged");
        // From A's own frame into C's granted page.
        assertEquals(-Errno.EPERM, copy(a, (int) (aPage >>> 12), a, refA, c, length, GrantOps.COPY_DEST_GREF),
            "copy A -> C's grant");
        assertArrayEquals(pattern(31), cMemory.hostRead(cPage, PAGE), "C's granted page is unchanged");
        assertEquals(copiesBefore, grants.copies(), "no copy counted");
        assertEquals(0, grants.pins(c, refA, false));
        assertEquals(0, grants.pins(c, refA, true));
        assertEquals(0, GrantEntry.flags(cTable.word(refA)) & GrantEntry.IN_USE, "the entry is not left in use");
        assertNull(grants.audit());
        assertNull(hv.audit());

        // Control: the partition copies the same grant both ways.
        long pPage = pageFilled(partitionMemory, 33);
        assertEquals(0, copy(partition, refP, c, (int) (pPage >>> 12), partition, length, GrantOps.COPY_SOURCE_GREF),
            "copy partition <- C's grant");
        byte[] expected = pattern(33);
        System.arraycopy(pattern(31), 0, expected, 0, length);
        assertArrayEquals(expected, partitionMemory.hostRead(pPage, PAGE), "the first 2048 bytes came from C");
        long pSrc = pageFilled(partitionMemory, 34);
        assertEquals(0, copy(partition, (int) (pSrc >>> 12), partition, refP, c, length, GrantOps.COPY_DEST_GREF),
            "copy partition -> C's grant");
        expected = pattern(31);
        System.arraycopy(pattern(34), 0, expected, 0, length);
        assertArrayEquals(expected, cMemory.hostRead(cPage, PAGE), "the first 2048 bytes of C's page came from the partition");
        assertEquals(copiesBefore + 2, grants.copies());
        assertEquals(0, grants.pinned(c), "a copy leaves no pin");
        assertNull(grants.audit());

        // And the refusal was the policy's: under the null policy, A's same copy moves the bytes.
        assertEquals(0, acm.load(open()));
        assertEquals(0, copy(a, refA, c, (int) (aPage >>> 12), a, length, GrantOps.COPY_SOURCE_GREF));
        byte[] aExpected = pattern(32);
        System.arraycopy(cMemory.hostRead(cPage, length), 0, aExpected, 0, length);
        assertArrayEquals(aExpected, aMemory.hostRead(aPage, PAGE));
        assertEquals(0, cTable.revoke(refA));
        assertEquals(0, cTable.revoke(refP));
    }

    /** A privileged caller's copy of another domain's frame by number (no grant) asks foreignMap. */
    @Test
    void aForeignCopyByAPrivilegedDomainOfAnotherCustomerIsRefused() {
        Domain emulatorA = hv.createDomain("emulator-a", "A", 1L << 20, true);
        DomainMemory emulatorMemory = new DomainMemory(emulatorA, machine.memory());
        long cPage = pageFilled(cMemory, 41);
        long ePage = pageFilled(emulatorMemory, 42);
        long ops = emulatorMemory.allocate(1);
        ByteBuffer op = ByteBuffer.allocate(GrantOps.COPY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        op.putInt(GrantOps.COPY_SRC_REF, (int) (cPage >>> 12)).putShort(GrantOps.COPY_SRC_DOM, (short) c.id())
            .putInt(GrantOps.COPY_DST_REF, (int) (ePage >>> 12)).putShort(GrantOps.COPY_DST_DOM, (short) emulatorA.id())
            .putShort(GrantOps.COPY_LENGTH, (short) PAGE).putShort(GrantOps.COPY_FLAGS, (short) 0);
        emulatorMemory.hostWrite(ops, op.array(), 0, op.capacity());
        assertEquals(0, as(emulatorA, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, ops, 1));
        assertEquals(-Errno.EPERM, ByteBuffer.wrap(emulatorMemory.hostRead(ops, GrantOps.COPY_BYTES)).order(ByteOrder.LITTLE_ENDIAN)
            .getShort(GrantOps.COPY_STATUS), "foreign copy A <- C");
        assertArrayEquals(pattern(42), emulatorMemory.hostRead(ePage, PAGE), "nothing copied");
        assertNull(grants.audit());
        assertNull(hv.audit());
        // Control: the partition copies the same frame by number.
        long pPage = pageFilled(partitionMemory, 43);
        assertEquals(0, copy(partition, (int) (cPage >>> 12), c, (int) (pPage >>> 12), partition, PAGE, 0));
        assertArrayEquals(pattern(41), partitionMemory.hostRead(pPage, PAGE));
    }

    // ------------------------------------------------------------------ device assignment

    @Test
    void aDeviceIsNotAssignedAgainstThePolicyAndItsIommuContextStaysAsItWas() {
        int unlabelled = 7;
        int labelledC = 8;
        int labelledA = 9;
        acm.labelDevice(labelledC, "C");
        acm.labelDevice(labelledA, "A");
        long aRoot = a.space().table().rootMa();
        for (int dev : new int[] {unlabelled, labelledC}) {
            String what = "device " + dev + " to customer A";
            long rootBefore = machine.iommu().tableRoot(dev);
            int tagBefore = machine.iommu().tableTag(dev);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> hv.assignDevice(dev, a), what);
            assertTrue(e.getMessage().contains(Errno.name(-Errno.EACCES)), what + ": " + e.getMessage());
            assertNull(hv.deviceOwner(dev), what + ": no owner");
            assertEquals(rootBefore, machine.iommu().tableRoot(dev), what + ": the device's IOMMU context is unchanged");
            assertEquals(tagBefore, machine.iommu().tableTag(dev), what + ": its IOTLB tag is unchanged");
            assertNotEquals(aRoot, machine.iommu().tableRoot(dev), what + ": the device does not translate through A's p2m");
            assertFalse(a.ownsDevice(), what + ": A is not marked as owning a device");
            assertNull(hv.audit(), what);
        }
        // Control: the device labelled A goes to A, its DMA through A's p2m.
        hv.assignDevice(labelledA, a);
        assertEquals(a, hv.deviceOwner(labelledA));
        assertEquals(aRoot, machine.iommu().tableRoot(labelledA));
        assertEquals(a.space().asid(), machine.iommu().tableTag(labelledA));
        assertTrue(a.ownsDevice());
        assertNull(hv.audit());
        // The device labelled C goes to C: the refusal above was A's label, not the device.
        hv.assignDevice(labelledC, c);
        assertEquals(c, hv.deviceOwner(labelledC));
        assertEquals(c.space().table().rootMa(), machine.iommu().tableRoot(labelledC));
        assertNull(hv.audit());
    }

    // ------------------------------------------------------------------ block device in the hypervisor (BLOCK_IO)

    @Test
    void aBlockDeviceConnectAgainstThePolicyIsRefusedAndSetsNothingUp() {
        HypervisorBlockDriver driver = hv.attachBlockDevice(cpu, BLOCK_VECTOR);
        int device = machine.device().deviceId();
        assertEquals(Machine.BLOCK_DEVICE_ID, device);
        driver.assignDisk(a, 0, 1024);
        driver.assignDisk(c, 1024, 1024);
        long aQueue = pageFilled(aMemory, 51);
        long aRequests = aMemory.allocate(1);
        long submittedBefore = driver.submitted();

        // Unlabelled, the device is shared with nobody.
        assertEquals(-Errno.EACCES, as(a, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, aQueue, 16, 0), "setup, device unlabelled");
        assertEquals(-Errno.ENOENT, as(a, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, aRequests, 1, 0),
            "no connection was made: submit finds none");
        // Labelled C, customer A is still refused.
        acm.labelDevice(device, "C");
        assertEquals(-Errno.EACCES, as(a, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, aQueue, 16, 0), "setup, device labelled C");
        assertEquals(-Errno.ENOENT, as(a, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, aRequests, 1, 0), "still no connection");
        assertEquals(-Errno.ENOENT, as(a, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, aRequests, 0, 0),
            "no connection: not even the count is looked at");
        assertArrayEquals(pattern(51), aMemory.hostRead(aQueue, PAGE), "A's response queue page is untouched");
        assertEquals(submittedBefore, driver.submitted(), "nothing submitted");
        assertNull(hv.audit());

        // Control: customer C, whose label the device carries, connects.
        long cQueue = cMemory.allocate(1);
        long cRequests = cMemory.allocate(1);
        assertEquals(0, as(c, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, cQueue, 16, 0), "setup, C on a device labelled C");
        assertEquals(-Errno.EINVAL, as(c, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, cRequests, 0, 0),
            "C is connected: its submit gets as far as the count");
        // And the refusal was the policy's: with the null policy A connects too.
        assertEquals(0, acm.load(open()));
        assertEquals(0, as(a, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, aQueue, 16, 0), "setup under the null policy");
        assertNull(hv.audit());
    }

    /** The trapped register interface and the channel-program start-I/O ask the same hook when they connect. */
    @Test
    void theTrappedAndChannelProgramPathsToTheBlockDeviceAreRefusedToo() {
        HypervisorBlockDriver driver = hv.attachBlockDevice(cpu, BLOCK_VECTOR);
        acm.labelDevice(machine.device().deviceId(), "C");
        Domain trapA = a;
        Domain channelA = hv.createDomain("customer-a-channel", "A", 1L << 20, false);
        driver.assignDisk(trapA, 0, 1024);
        driver.assignDisk(channelA, 1024, 1024);
        driver.assignDisk(c, 2048, 1024);
        trapA.setMmioHandler(driver);
        c.setMmioHandler(driver);
        channelA.setChannelHandler(driver);
        DomainMemory channelMemory = new DomainMemory(channelA, machine.memory());

        // Trapped: the enable is where the connection is asked for.
        long sq = aMemory.allocate(1);
        long cq = aMemory.allocate(1);
        programQueues(trapA, sq, cq);
        assertEquals(-Errno.EACCES, vmexit(trapA, VmExit.MMIO_WRITE, BlockDevice.REG_CONTROL, 1), "trapped enable, A");
        assertEquals(-Errno.EINVAL, vmexit(trapA, VmExit.MMIO_WRITE, BlockDevice.REG_DOORBELL, 1),
            "the virtual device was not enabled: the doorbell serves nothing");
        long cSq = cMemory.allocate(1);
        long cCq = cMemory.allocate(1);
        programQueues(c, cSq, cCq);
        assertEquals(0, vmexit(c, VmExit.MMIO_WRITE, BlockDevice.REG_CONTROL, 1), "trapped enable, C (control)");

        // Channel program: refused before any connection is made; the status word is not written.
        long chain = channelMemory.allocate(1);
        long status = pageFilled(channelMemory, 61);
        long submittedBefore = driver.submitted();
        assertEquals(-Errno.EACCES, vmexit(channelA, VmExit.START_IO, chain, status), "start-I/O, A");
        assertArrayEquals(pattern(61), channelMemory.hostRead(status, PAGE), "no status written");
        assertEquals(submittedBefore, driver.submitted());
        assertEquals(-Errno.EACCES, vmexit(channelA, VmExit.START_IO, chain, status), "start-I/O, A, again: still no connection");
        assertNull(hv.audit());
    }

    private void programQueues(Domain d, long sq, long cq) {
        assertEquals(0, vmexit(d, VmExit.MMIO_WRITE, BlockDevice.REG_SQ_BASE, sq));
        assertEquals(0, vmexit(d, VmExit.MMIO_WRITE, BlockDevice.REG_CQ_BASE, cq));
        assertEquals(0, vmexit(d, VmExit.MMIO_WRITE, BlockDevice.REG_ENTRIES, 16));
    }

    // ------------------------------------------------------------------ event channels (EVENT_CHANNEL_OP)

    private boolean[] openPorts(Domain d) {
        boolean[] open = new boolean[EventChannels.PORTS];
        for (int p = 1; p < EventChannels.PORTS; p++) {
            open[p] = channels.isOpen(d, p);
        }
        return open;
    }

    @Test
    void eventChannelAllocUnboundBetweenCustomersIsRefusedAndOpensNoPort() {
        // C has a channel of its own to the partition, so that "unchanged" has something to compare.
        long cPort = as(c, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, partition.id(), 0);
        assertTrue(cPort > 0, "C -> partition: " + cPort);
        boolean[] aBefore = openPorts(a);
        boolean[] cBefore = openPorts(c);
        int namingC = channels.portsNaming(c.id());
        int namingA = channels.portsNaming(a.id());

        assertEquals(-Errno.EACCES, as(a, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, c.id(), 0), "A for C");
        assertEquals(-Errno.EACCES, as(c, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, a.id(), 0), "C for A");
        assertFalse(channels.boundBetween(a, c), "no port of A names C");
        assertFalse(channels.boundBetween(c, a), "no port of C names A");
        assertArrayEquals(aBefore, openPorts(a), "A's ports are unchanged");
        assertArrayEquals(cBefore, openPorts(c), "C's ports are unchanged");
        assertEquals(namingC, channels.portsNaming(c.id()));
        assertEquals(namingA, channels.portsNaming(a.id()));

        // Control: the partition opens a port for A.
        long port = as(partition, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, a.id(), 0);
        assertTrue(port > 0, "partition -> A: " + port);
        assertTrue(channels.boundBetween(partition, a));
        assertEquals(namingA + 1, channels.portsNaming(a.id()));
        // And A's same call goes through once the policy permits it.
        assertEquals(0, acm.load(open()));
        long aPort = as(a, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, c.id(), 0);
        assertTrue(aPort > 0, "A for C under the null policy: " + aPort);
        assertTrue(channels.boundBetween(a, c));
    }

    @Test
    void eventChannelBindInterdomainBetweenCustomersIsRefusedAndLeavesThePeersPortUnbound() {
        // C's port left unbound for A. Alloc-unbound and bind ask about the same pair of labels, so under
        // one policy a bind can be refused only for a port made before that policy was in force: here C
        // opens it while the hypervisor's hooks are the permit-all module, then sHype takes over. (A
        // policy change cannot be used: in reject mode the installed module refuses to load a policy
        // that this port breaks, and in revoke mode it cuts the port.)
        hv.setAccessControl(AccessControl.PERMIT_ALL);
        long cPort = as(c, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, a.id(), 0);
        assertTrue(cPort > 0, "C for A before sHype: " + cPort);
        hv.setAccessControl(acm);
        boolean[] aBefore = openPorts(a);
        boolean[] cBefore = openPorts(c);
        int namingC = channels.portsNaming(c.id());
        int namingA = channels.portsNaming(a.id());
        assertEquals(1, namingA, "C's unbound port names A");

        assertEquals(-Errno.EACCES, as(a, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, c.id(), cPort),
            "A binds C's port");
        assertFalse(channels.boundBetween(a, c), "no port of A names C");
        assertArrayEquals(aBefore, openPorts(a), "A's ports are unchanged");
        assertArrayEquals(cBefore, openPorts(c), "C's ports are unchanged");
        assertEquals(namingC, channels.portsNaming(c.id()));
        assertEquals(namingA, channels.portsNaming(a.id()));
        assertEquals(-Errno.ENOTCONN, as(c, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, cPort, 0),
            "C's port is still unbound: nobody at the other end");

        // Control: the partition binds a port A left for it.
        long aPort = as(a, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, partition.id(), 0);
        assertTrue(aPort > 0);
        long bound = as(partition, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, a.id(), aPort);
        assertTrue(bound > 0, "partition binds A's port: " + bound);
        assertTrue(channels.boundBetween(partition, a));
        // And A's refused bind goes through once the policy permits it.
        assertEquals(0, acm.load(open()));
        long local = as(a, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, c.id(), cPort);
        assertTrue(local > 0, "A binds C's port under the null policy: " + local);
        assertTrue(channels.boundBetween(a, c));
        assertFalse(Arrays.equals(aBefore, openPorts(a)));
    }
}
