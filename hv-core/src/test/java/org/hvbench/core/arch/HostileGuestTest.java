package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VmExit;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A hostile guest shares the in-hypervisor driver with a well-behaved one. Each bad request gets its
 * errno; no byte of the disk or of any other domain changes; the well-behaved guest's I/O still
 * completes with exact data.
 */
class HostileGuestTest {
    private static final long DISK_BYTES = 8L << 20;
    private static final long DISK_SECTORS = DISK_BYTES / 512;
    /** The well-behaved guest keeps the first half of the disk, the attacker's virtual disk is the second. */
    private static final long ATTACKER_FIRST = DISK_SECTORS / 2;
    private static final long ATTACKER_SECTORS = DISK_SECTORS / 2;

    private IoPath path;
    private Hypervisor hv;
    private Cpu cpu;
    private Domain attacker;
    private DomainMemory attackerMemory;
    private long dataGpa;

    @BeforeEach
    void boot() {
        path = Placement.HYPERVISOR_PV.open(MachineConfig.defaults().memory(64L << 20).diskBytes(DISK_BYTES), 4);
        hv = ((HypervisorPlacement) path).hypervisor();
        cpu = path.cpu();
        // The well-behaved guest writes known data first, so that a stray write would show.
        IoDriver good = new IoDriver(path);
        byte[] known = new byte[64 << 10];
        new Random(1).nextBytes(known);
        assertEquals(known.length, good.write(0, good.buffer(known.length, 0), known));
        Domain victim = ((HypervisorPlacement) path).guest();
        hv.blockDriver().assignDisk(victim, 0, ATTACKER_FIRST);
        attacker = hv.createDomain("attacker", "attacker", 2L << 20, false);
        hv.blockDriver().assignDisk(attacker, ATTACKER_FIRST, ATTACKER_SECTORS);
        attacker.setMmioHandler(hv.blockDriver());
        attackerMemory = new DomainMemory(attacker, path.machine().memory());
        dataGpa = attackerMemory.allocate(4);
        byte[] junk = new byte[4 * 4096];
        new Random(2).nextBytes(junk);
        attackerMemory.hostWrite(dataGpa, junk, 0, junk.length);
    }

    @AfterEach
    void close() {
        path.close();
    }

    /** Every other domain's frames, and the disk outside the attacker's virtual disk. */
    private MachineSnapshot snapshot() {
        return MachineSnapshot.of(path.machine(), attacker.id(), ATTACKER_FIRST * 512, DISK_BYTES);
    }

    /** Runs {@code call} with the CPU in the attacker's kernel, then gives the CPU back to the good guest's app. */
    private long asAttacker(java.util.function.LongSupplier call) {
        Cpu c = cpu;
        c.start(attacker.kernel());
        try {
            return call.getAsLong();
        } finally {
            c.start(path.app().kernel().appContext());
        }
    }

    private void wellBehavedGuestStillWorks() {
        IoDriver good = new IoDriver(path);
        byte[] data = new byte[12288];
        new Random(3).nextBytes(data);
        long buffer = good.buffer(data.length, 512);
        assertEquals(data.length, good.write(1 << 20, buffer, data));
        assertArrayEquals(data, good.read(1 << 20, good.buffer(data.length, 0), data.length));
    }

    // ------------------------------------------------------------------ paravirtual: BLOCK_IO hypercall

    /** A valid one-page read of the attacker's first data page, to be spoiled by each case. */
    private ByteBuffer goodRequest(int op) {
        ByteBuffer r = ByteBuffer.allocate(BlockProtocol.REQUEST_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        r.put(BlockProtocol.OPERATION, (byte) op);
        r.put(BlockProtocol.NR_SEGMENTS, (byte) 1);
        r.putLong(BlockProtocol.ID, 99);
        r.putLong(BlockProtocol.SECTOR, 64);
        r.putInt(BlockProtocol.segmentOffset(0) + BlockProtocol.SEGMENT_REF, (int) (dataGpa >>> 12));
        r.put(BlockProtocol.segmentOffset(0) + BlockProtocol.SEGMENT_FIRST_SECT, (byte) 0);
        r.put(BlockProtocol.segmentOffset(0) + BlockProtocol.SEGMENT_LAST_SECT, (byte) 7);
        return r;
    }

    private long submitRequests(ByteBuffer... requests) {
        long responses = attackerMemory.allocate(1);
        long setup = asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, responses, 16, 0));
        assertEquals(0, setup, "the attacker may connect");
        long page = attackerMemory.allocate(1);
        for (int i = 0; i < requests.length; i++) {
            attackerMemory.hostWrite(page + (long) i * BlockProtocol.REQUEST_BYTES, requests[i].array(), 0, BlockProtocol.REQUEST_BYTES);
        }
        return asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, page, requests.length, 0));
    }

    static Stream<Arguments> spoiledRequests() {
        int seg0 = BlockProtocol.segmentOffset(0);
        return Stream.of(
            Arguments.of("sector range beyond the guest's virtual disk", Errno.ENOSPC,
                (Consumer<ByteBuffer>) r -> r.putLong(BlockProtocol.SECTOR, ATTACKER_SECTORS - 4)),
            Arguments.of("sector range beyond the real disk", Errno.ENOSPC,
                (Consumer<ByteBuffer>) r -> r.putLong(BlockProtocol.SECTOR, DISK_SECTORS - 4)),
            Arguments.of("negative sector", Errno.ENOSPC, (Consumer<ByteBuffer>) r -> r.putLong(BlockProtocol.SECTOR, -8)),
            Arguments.of("zero segments", Errno.EINVAL, (Consumer<ByteBuffer>) r -> r.put(BlockProtocol.NR_SEGMENTS, (byte) 0)),
            Arguments.of("twelve segments", Errno.EINVAL, (Consumer<ByteBuffer>) r -> r.put(BlockProtocol.NR_SEGMENTS, (byte) 12)),
            Arguments.of("first_sect > last_sect", Errno.EINVAL, (Consumer<ByteBuffer>) r -> {
                r.put(seg0 + BlockProtocol.SEGMENT_FIRST_SECT, (byte) 5);
                r.put(seg0 + BlockProtocol.SEGMENT_LAST_SECT, (byte) 2);
            }),
            Arguments.of("last_sect past the page", Errno.EINVAL,
                (Consumer<ByteBuffer>) r -> r.put(seg0 + BlockProtocol.SEGMENT_LAST_SECT, (byte) 8)),
            Arguments.of("frame outside the guest", Errno.EFAULT,
                (Consumer<ByteBuffer>) r -> r.putInt(seg0 + BlockProtocol.SEGMENT_REF, 1 << 20)),
            Arguments.of("unknown operation", Errno.EOPNOTSUPP, (Consumer<ByteBuffer>) r -> r.put(BlockProtocol.OPERATION, (byte) 7)),
            Arguments.of("flush with segments", Errno.EINVAL,
                (Consumer<ByteBuffer>) r -> r.put(BlockProtocol.OPERATION, (byte) BlockProtocol.OP_FLUSH)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("spoiledRequests")
    void aSpoiledRequestGetsItsErrnoAndChangesNothing(String what, int errno, Consumer<ByteBuffer> spoil) {
        for (int op : new int[] {BlockProtocol.OP_READ, BlockProtocol.OP_WRITE}) {
            MachineSnapshot before = snapshot();
            ByteBuffer bad = goodRequest(op);
            spoil.accept(bad);
            assertEquals(-errno, submitRequests(bad), what);
            // A batch is taken whole or not at all: a good write beside the bad request does not happen either.
            assertEquals(-errno, submitRequests(goodRequest(BlockProtocol.OP_WRITE), bad), what + " in a batch");
            path.machine().device().doWork();
            before.assertUnchanged(path.machine(), what);
        }
        wellBehavedGuestStillWorks();
    }

    @Test
    void aValidWriteLandsInTheGuestsOwnVirtualDiskOnly() {
        MachineSnapshot before = snapshot();
        assertEquals(1, submitRequests(goodRequest(BlockProtocol.OP_WRITE)), "the attacker's own disk is writable");
        new org.hvbench.core.exec.InlineExecutor(path).runUntilIdle();
        before.assertUnchanged(path.machine(), "a valid write of the attacker");
        byte[] expected = attackerMemory.hostRead(dataGpa, 4096);
        byte[] onDisk = new byte[4096];
        path.machine().backing().peek((ATTACKER_FIRST + 64) * 512, onDisk, 0, 4096);
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, onDisk, "sector 64 of the virtual disk is sector "
            + (ATTACKER_FIRST + 64) + " of the real one");
        assertEquals(ATTACKER_SECTORS, hv.blockDriver().diskSectors(attacker));
    }

    @Test
    void aDomainWithoutAVirtualDiskCannotConnectAndExtentsCannotOverlap() {
        Domain other = hv.createDomain("other", "other", 1L << 20, false);
        DomainMemory memory = new DomainMemory(other, path.machine().memory());
        long page = memory.allocate(1);
        cpu.start(other.kernel());
        assertEquals(-Errno.ENOENT, hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, page, 16, 0));
        cpu.start(path.app().kernel().appContext());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> hv.blockDriver().assignDisk(other, ATTACKER_FIRST - 8, 16));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> hv.blockDriver().assignDisk(other, DISK_SECTORS - 8, 16));
    }

    @Test
    void aFrameMappedIntoTheGuestButOwnedByAnotherDomainIsRefused() {
        // As if the guest's map held a frame of dom0 (a stale mapping, a hypervisor bug):
        // the owner check refuses DMA into it all the same.
        long foreignMa = hv.dom0().machineFrame(5) << MachineMemory.PAGE_SHIFT;
        long gpa = (long) (attacker.pages() + 3) << MachineMemory.PAGE_SHIFT;
        assertEquals(0, attacker.space().table().map(gpa, foreignMa, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE));
        MachineSnapshot before = snapshot();
        ByteBuffer r = goodRequest(BlockProtocol.OP_READ);
        r.putInt(BlockProtocol.segmentOffset(0) + BlockProtocol.SEGMENT_REF, (int) (gpa >>> 12));
        assertEquals(-Errno.EFAULT, submitRequests(r));
        path.machine().device().doWork();
        before.assertUnchanged(path.machine(), "foreign frame");
        wellBehavedGuestStillWorks();
    }

    @Test
    void badHypercallArgumentsGetTheirErrno() {
        long page = attackerMemory.allocate(1);
        assertEquals(-Errno.ENOSYS, asAttacker(() -> hv.hypercall(cpu, 999, 0, 0, 0, 0)), "unknown hypercall");
        assertEquals(-Errno.ENOSYS, asAttacker(() -> hv.hypercall(cpu, -1, 0, 0, 0, 0)), "negative hypercall number");
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, 77, 0, 0, 0)), "unknown block sub-op");
        assertEquals(-Errno.ENOENT, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, page, 1, 0)),
            "submit before setup");
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, page + 8, 16, 0)),
            "misaligned response queue");
        assertEquals(-Errno.EFAULT, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, 1L << 40, 16, 0)),
            "response queue outside the guest");
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, page, 3, 0)),
            "response entries not a power of two");
        assertEquals(0, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, page, 16, 0)));
        long requests = attackerMemory.allocate(1);
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, requests, 0, 0)),
            "zero requests");
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, requests, 33, 0)),
            "more requests than a batch");
        assertEquals(-Errno.EFAULT, asAttacker(() -> hv.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, 1L << 40, 1, 0)),
            "requests outside the guest");
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.CONSOLE_IO, Hypercall.CONSOLE_WRITE, 257, page, 0)),
            "console line too long");
        assertEquals(-Errno.EINVAL, asAttacker(() -> hv.hypercall(cpu, Hypercall.MULTICALL, page, 0, 0, 0)), "empty multicall");
        cpu.start(attacker.app());
        assertEquals(-Errno.EPERM, hv.hypercall(cpu, Hypercall.CONSOLE_IO, 0, 0, 0, 0), "a hypercall from user level");
        cpu.start(path.app().kernel().appContext());
        wellBehavedGuestStillWorks();
    }

    @Test
    void aMulticallRunsEachCallAndRefusesANestedOne() {
        long text = attackerMemory.allocate(1);
        attackerMemory.hostWrite(text, "hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, 5);
        long calls = attackerMemory.allocate(1);
        ByteBuffer entries = ByteBuffer.allocate(3 * Hypercall.MULTICALL_ENTRY_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        entries.putLong(0, Hypercall.CONSOLE_IO).putLong(16, Hypercall.CONSOLE_WRITE).putLong(24, 5).putLong(32, text);
        entries.putLong(64, Hypercall.MULTICALL).putLong(80, calls).putLong(88, 1);
        entries.putLong(128, 12345);
        attackerMemory.hostWrite(calls, entries.array(), 0, entries.capacity());
        long before = cpu.trace().count(org.hvbench.core.cpu.Crossing.HYPERCALL);
        assertEquals(0, asAttacker(() -> hv.hypercall(cpu, Hypercall.MULTICALL, calls, 3, 0, 0)));
        assertEquals(1, cpu.trace().count(org.hvbench.core.cpu.Crossing.HYPERCALL) - before, "three calls, one entry");
        ByteBuffer results = ByteBuffer.wrap(attackerMemory.hostRead(calls, 3 * 64)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(5, results.getLong(8), "console write result");
        assertEquals(-Errno.EINVAL, results.getLong(64 + 8), "nested multicall refused");
        assertEquals(-Errno.ENOSYS, results.getLong(128 + 8), "unknown call in a multicall");
        assertTrue(hv.console().endsWith("hello"), hv.console());
    }

    // ------------------------------------------------------------------ trapped: the device model

    /** The attacker programs its own virtual device queues; returns the completion queue's gpa. */
    private long[] attackerQueues(int entries) {
        long sq = attackerMemory.allocate(MemoryQueue.pages(BlockCommand.BYTES, entries));
        long cq = attackerMemory.allocate(MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries));
        assertEquals(0, mmio(BlockDevice.REG_SQ_BASE, sq));
        assertEquals(0, mmio(BlockDevice.REG_CQ_BASE, cq));
        assertEquals(0, mmio(BlockDevice.REG_ENTRIES, entries));
        assertEquals(0, mmio(BlockDevice.REG_CONTROL, 1));
        return new long[] {sq, cq};
    }

    private long mmio(int register, long value) {
        return asAttacker(() -> hv.vmexit(cpu, VmExit.MMIO_WRITE, register, value));
    }

    private ByteBuffer command(int op, long sector, long gpa, int length) {
        ByteBuffer c = ByteBuffer.allocate(BlockCommand.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        c.put(BlockCommand.OPCODE, (byte) op).put(BlockCommand.SEGMENT_COUNT, (byte) 1).putInt(BlockCommand.TAG, 42)
            .putLong(BlockCommand.SECTOR, sector)
            .putLong(BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_ADDRESS, gpa)
            .putInt(BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_LENGTH, length);
        return c;
    }

    /** Publishes one command in the attacker's queue, rings, runs the machine; returns the completion status. */
    private int trappedCommand(long[] queues, int index, ByteBuffer cmd) {
        long slot = MemoryQueue.slotAddress(queues[0], BlockCommand.BYTES, 8, index);
        attackerMemory.hostWrite(slot, cmd.array(), 0, BlockCommand.BYTES);
        ByteBuffer producer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, index + 1);
        attackerMemory.hostWrite(queues[0] + MemoryQueue.PRODUCER_OFFSET, producer.array(), 0, 4);
        assertEquals(0, mmio(BlockDevice.REG_DOORBELL, 0));
        new org.hvbench.core.exec.InlineExecutor(path).runUntilIdle();
        ByteBuffer completion = ByteBuffer.wrap(attackerMemory.hostRead(
            MemoryQueue.slotAddress(queues[1], BlockCommand.COMPLETION_BYTES, 8, index), BlockCommand.COMPLETION_BYTES))
            .order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(42, completion.getInt(BlockCommand.COMPLETION_TAG), "the completion carries the guest's tag");
        return completion.getInt(BlockCommand.COMPLETION_STATUS);
    }

    @Test
    void trappedCommandsAreCheckedOneByOne() {
        long[] queues = attackerQueues(8);
        MachineSnapshot before = snapshot();
        int i = 0;
        assertEquals(-Errno.ENOSPC, trappedCommand(queues, i++, command(BlockCommand.OP_WRITE, ATTACKER_SECTORS - 1, dataGpa, 4096)),
            "beyond the attacker's virtual disk");
        assertEquals(-Errno.EFAULT, trappedCommand(queues, i++, command(BlockCommand.OP_WRITE, 0, 1L << 32, 4096)),
            "address outside the guest");
        assertEquals(-Errno.EINVAL, trappedCommand(queues, i++, command(BlockCommand.OP_WRITE, 0, dataGpa + 512, 4096)),
            "segment crossing a page");
        assertEquals(-Errno.EINVAL, trappedCommand(queues, i++, command(BlockCommand.OP_READ, 0, dataGpa, 100)),
            "length not whole sectors");
        ByteBuffer noSegments = command(BlockCommand.OP_WRITE, 0, dataGpa, 4096).put(BlockCommand.SEGMENT_COUNT, (byte) 0);
        assertEquals(-Errno.EINVAL, trappedCommand(queues, i++, noSegments), "zero segments");
        ByteBuffer tooMany = command(BlockCommand.OP_WRITE, 0, dataGpa, 4096).put(BlockCommand.SEGMENT_COUNT, (byte) 12);
        assertEquals(-Errno.EINVAL, trappedCommand(queues, i++, tooMany), "twelve segments");
        assertEquals(-Errno.EOPNOTSUPP, trappedCommand(queues, i++, command(9, 0, dataGpa, 4096)), "unknown opcode");
        before.assertUnchanged(path.machine(), "trapped commands");
        // A good command still works for the attacker itself: its own frame, its own data.
        assertEquals(0, trappedCommand(queues, i, command(BlockCommand.OP_READ, 0, dataGpa, 4096)));
        wellBehavedGuestStillWorks();
    }

    @Test
    void aProducerIndexBeyondTheQueueStopsOnlyTheAttackersVirtualDevice() {
        long[] queues = attackerQueues(8);
        MachineSnapshot before = snapshot();
        ByteBuffer producer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 1000);
        attackerMemory.hostWrite(queues[0] + MemoryQueue.PRODUCER_OFFSET, producer.array(), 0, 4);
        assertEquals(-Errno.EINVAL, mmio(BlockDevice.REG_DOORBELL, 0));
        assertEquals(-Errno.EINVAL, mmio(BlockDevice.REG_DOORBELL, 0), "stopped until reset");
        assertEquals(-Errno.EINVAL, mmio(99, 0), "unknown register");
        new org.hvbench.core.exec.InlineExecutor(path).runUntilIdle();
        before.assertUnchanged(path.machine(), "runaway producer");
        wellBehavedGuestStillWorks();
    }

    @Test
    void aConsoleWriteFromAnAddressOutsideTheGuestIsEfaultAndPrintsNothing() {
        long text = attackerMemory.allocate(1);
        attackerMemory.hostWrite(text, "ok".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, 2);
        assertEquals(2, asAttacker(() -> hv.hypercall(cpu, Hypercall.CONSOLE_IO, Hypercall.CONSOLE_WRITE, 2, text, 0)));
        String before = hv.console();
        assertTrue(before.endsWith("ok"), before);
        assertEquals(-Errno.EFAULT, asAttacker(() -> hv.hypercall(cpu, Hypercall.CONSOLE_IO, Hypercall.CONSOLE_WRITE, 5, 1L << 40, 0)),
            "console text outside the guest");
        assertEquals(-Errno.EFAULT, asAttacker(() -> hv.hypercall(cpu, Hypercall.CONSOLE_IO, Hypercall.CONSOLE_WRITE, 5,
            (long) (attacker.pages() + 7) << MachineMemory.PAGE_SHIFT, 0)), "console text past the guest's last page");
        assertEquals(before, hv.console(), "a refused console write prints nothing");
        wellBehavedGuestStillWorks();
    }

    @Test
    void onlyAPrivilegedDomainMayInjectAnInterruptThroughDmOp() {
        Domain victim = ((HypervisorPlacement) path).guest();
        long virqs = cpu.trace().count(org.hvbench.core.cpu.Crossing.VIRQ);
        assertEquals(-Errno.EPERM, asAttacker(() -> hv.hypercall(cpu, Hypercall.DM_OP, Hypercall.DM_INJECT_IRQ, victim.id(), 0, 0)),
            "an unprivileged domain injects an interrupt into another guest");
        assertEquals(-Errno.EPERM, asAttacker(() -> hv.hypercall(cpu, Hypercall.DM_OP, Hypercall.DM_INJECT_IRQ, hv.dom0().id(), 0, 0)),
            "an unprivileged domain injects an interrupt into dom0");
        assertEquals(virqs, cpu.trace().count(org.hvbench.core.cpu.Crossing.VIRQ), "no interrupt was delivered");
        wellBehavedGuestStillWorks();
    }
}
