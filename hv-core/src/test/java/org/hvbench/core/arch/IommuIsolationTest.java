package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.iommu.DmaMapper;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The IOMMU in the whole machine: a device given to one guest reaches that guest's memory and nothing
 * else, whatever it is told; strict invalidation leaves no window, deferred leaves a counted one; the
 * exclusion vector keeps devices off the hypervisor; the IOMMU hypercalls map only a domain's own
 * frames; and the passthrough placements give their exact traces.
 */
class IommuIsolationTest {
    private static final long DISK = 4L << 20;

    private static MachineConfig config() {
        return MachineConfig.defaults().memory(64L << 20).diskBytes(DISK);
    }

    private static List<String> steps(IoPath path, Runnable io) {
        path.trace().startRecording();
        io.run();
        path.trace().stopRecording();
        List<String> steps = new ArrayList<>();
        for (int i = 0; i < path.trace().size(); i++) {
            steps.add(path.trace().kind(i) + " " + path.trace().from(i) + "->" + path.trace().to(i));
        }
        return steps;
    }

    @Test
    void passthroughGivesSixCrossingsAndPostedInterruptsFive() {
        try (IoPath path = Placement.PASSTHROUGH.open(config(), 1)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4096, 0);
            assertEquals(List.of(
                "SYSCALL guest-app->guest-kernel",
                "DEVICE_START guest-kernel->device",
                "SYSRET guest-kernel->guest-app",
                "DEVICE_IRQ device->hypervisor",
                "VIRQ hypervisor->guest-kernel",
                "UPCALL guest-kernel->guest-app"),
                steps(path, () -> assertEquals(4096, io.io(Aio.PWRITE, 0, buffer, 4096))));
        }
        try (IoPath path = Placement.PASSTHROUGH_POSTED.open(config(), 1)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4096, 0);
            assertEquals(List.of(
                "SYSCALL guest-app->guest-kernel",
                "DEVICE_START guest-kernel->device",
                "SYSRET guest-kernel->guest-app",
                "DEVICE_IRQ device->guest-kernel",
                "UPCALL guest-kernel->guest-app"),
                steps(path, () -> assertEquals(4096, io.io(Aio.PREAD, 0, buffer, 4096))));
        }
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"PASSTHROUGH", "PASSTHROUGH_POSTED", "CHANNEL_PROGRAM_IOMMU"})
    void aPlacementThatGivesTheDeviceToAGuestNeedsTheIommu(Placement placement) {
        for (String mode : new String[] {"off", "exclusion"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> placement.open(config().iommu(mode), 1));
            assertTrue(e.getMessage().startsWith("iommu:"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ the device of A, told anything

    /** Fills every page of {@code d} with bytes no other page has; returns their hashes. */
    private static Set<Integer> mark(Domain d, DomainMemory memory) {
        Set<Integer> hashes = new HashSet<>();
        Random random = new Random(d.id());
        byte[] page = new byte[4096];
        for (long gfn = 1; gfn < d.pages(); gfn++) {
            random.nextBytes(page);
            memory.hostWrite(gfn << MachineMemory.PAGE_SHIFT, page, 0, page.length);
            hashes.add(Arrays.hashCode(page));
        }
        return hashes;
    }

    /** I/O addresses a hostile guest A could hand its device to reach domain B. */
    private static long[] hostileAddresses(Machine machine, Domain victim, Domain attacker) {
        List<Long> out = new ArrayList<>();
        FrameAllocator frames = machine.frames();
        for (int mfn = 0; mfn < frames.frames(); mfn++) {
            int owner = frames.owner(mfn);
            if (owner == victim.id() || owner == FrameAllocator.OWNER_HYPERVISOR || owner == FrameAllocator.OWNER_IO) {
                out.add((long) mfn << MachineMemory.PAGE_SHIFT); // its machine address, as if A knew it
            }
        }
        out.add(attacker.memoryBytes() + MachineMemory.PAGE_SIZE);   // past A's memory
        out.add(attacker.windowStart());                             // A's empty mapping window
        out.add(1L << 47);
        out.add(-4096L);
        Random random = new Random(77);
        for (int i = 0; i < 64; i++) {
            out.add(random.nextLong() & ~MachineMemory.PAGE_MASK);
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    @Test
    void aPassthroughGuestsDeviceReachesNoFrameOfAnotherDomainWhateverItIsTold() {
        try (IoPath path = Placement.PASSTHROUGH.open(config(), 1)) {
            PassthroughPlacement p = (PassthroughPlacement) path;
            Hypervisor hv = p.hypervisor();
            Domain a = p.guest();
            Domain b = hv.createDomain("victim", "victim", 2L << 20, false);
            DomainMemory bMemory = new DomainMemory(b, path.machine().memory());
            Set<Integer> bPages = mark(b, bMemory);
            DomainMemory aMemory = (DomainMemory) path.app().memory();
            MachineSnapshot everyoneButA = MachineSnapshot.of(path.machine(), a.id(), 0, DISK);
            BlockDevice device = path.machine().device();
            Cpu cpu = path.cpu();

            // A reprograms its device with its own queues (the device is A's: its registers are not trapped).
            int entries = 16;
            long sq = aMemory.allocate(MemoryQueue.pages(BlockCommand.BYTES, entries));
            long cq = aMemory.allocate(MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries));
            assertEquals(0, device.mmioWrite(BlockDevice.REG_CONTROL, 0));
            assertEquals(0, device.mmioWrite(BlockDevice.REG_SQ_BASE, sq));
            assertEquals(0, device.mmioWrite(BlockDevice.REG_CQ_BASE, cq));
            assertEquals(0, device.mmioWrite(BlockDevice.REG_ENTRIES, entries));
            assertEquals(0, device.mmioWrite(BlockDevice.REG_CONTROL, 1));
            QueueProducer submissions = new QueueProducer(path.machine().memory(), cpu.view(a.space()), sq, BlockCommand.BYTES, entries);
            QueueConsumer completions = new QueueConsumer(path.machine().memory(), cpu.view(a.space()), cq,
                BlockCommand.COMPLETION_BYTES, entries);
            long faults = path.machine().iommu().faults().recorded() + path.machine().iommu().faults().overflowed();

            long[] targets = hostileAddresses(path.machine(), b, a);
            long sector = 0;
            byte[] page = new byte[4096];
            for (long target : targets) {
                for (int op : new int[] {BlockCommand.OP_READ, BlockCommand.OP_WRITE}) {
                    long slot = submissions.slot(0);
                    MachineMemory m = path.machine().memory();
                    m.putByte(slot + BlockCommand.OPCODE, (byte) op);
                    m.putByte(slot + BlockCommand.SEGMENT_COUNT, (byte) 1);
                    m.putInt(slot + BlockCommand.TAG, 1);
                    m.putLong(slot + BlockCommand.SECTOR, sector);
                    m.putLong(slot + BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_ADDRESS, target);
                    m.putInt(slot + BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_LENGTH, 4096);
                    submissions.publish(1);
                    device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
                    assertEquals(1, device.doWork(), "the device took the command");
                    cpu.deliverInterrupts();
                    assertEquals(1, completions.available());
                    long status = path.machine().memory().getInt(completions.slot(0) + BlockCommand.COMPLETION_STATUS);
                    completions.consume(1);
                    path.machine().backing().peek(sector * 512, page, 0, 4096);
                    assertFalse(bPages.contains(Arrays.hashCode(page)), "sector " + sector + " holds a page of the victim");
                    if (target >= a.memoryBytes() + MachineMemory.PAGE_SIZE || target < 0) {
                        assertEquals(-Errno.EFAULT, status, "an address outside the guest: 0x" + Long.toHexString(target));
                    }
                    sector = (sector + 8) % (DISK / 512);
                }
            }
            everyoneButA.assertUnchanged(path.machine(), "a device told to reach other domains");
            long refused = path.machine().iommu().faults().recorded() + path.machine().iommu().faults().overflowed() - faults;
            assertTrue(refused >= targets.length, "the IOMMU refused and logged them: " + refused);
        }
    }

    // ------------------------------------------------------------------ invalidation after an I/O

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"NATIVE", "HYPERVISOR_PV", "HYPERVISOR_TRAP", "CHANNEL_PROGRAM"})
    void strictNoDmaReachesABufferAfterItsIoCompleted(Placement placement) {
        try (IoPath path = placement.open(config().iommuInvalidation("strict"), 1)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4096, 0);
            long ma = path.app().memory().hostTranslate(buffer);
            Iommu iommu = path.machine().iommu();
            assertEquals(4096, io.io(Aio.PWRITE, 0, buffer, 4096));
            for (long k = 0; k < 256; k++) {
                long iova = DmaMapper.IOVA_BASE + (k << MachineMemory.PAGE_SHIFT);
                assertTrue(iommu.translate(Machine.BLOCK_DEVICE_ID, iova, Translation.READ) != ma,
                    "no I/O address reaches the buffer once its I/O completed");
            }
            assertEquals(-Errno.EFAULT, iommu.translate(Machine.BLOCK_DEVICE_ID, ma, Translation.READ));
            assertEquals(0, iommu.staleSuccesses());
            assertEquals(0, iommu.pendingUnmaps());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"NATIVE", "HYPERVISOR_PV", "HYPERVISOR_TRAP", "CHANNEL_PROGRAM"})
    void deferredLeavesACountedWindowUntilTheFlush(Placement placement) {
        try (IoPath path = placement.open(config().iommuInvalidation("deferred").iommuBatch(64), 1)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4096, 0);
            long ma = path.app().memory().hostTranslate(buffer);
            Iommu iommu = path.machine().iommu();
            assertEquals(4096, io.io(Aio.PWRITE, 0, buffer, 4096));
            assertTrue(iommu.pendingUnmaps() > 0, "the unmap waits for a batch");
            // The device may still reach the buffer through the I/O address it was given, whichever it was.
            long stale = -1;
            for (long k = 0; k < 256 && stale < 0; k++) {
                long iova = DmaMapper.IOVA_BASE + (k << MachineMemory.PAGE_SHIFT);
                if (iommu.translate(Machine.BLOCK_DEVICE_ID, iova, Translation.READ) == ma) {
                    stale = iova;
                }
            }
            assertTrue(stale >= 0, "the window is open: an unmapped I/O address still reaches the buffer");
            assertEquals(1, iommu.staleSinceFlush());
            iommu.flush();
            assertEquals(0, iommu.staleSinceFlush());
            assertEquals(-Errno.EFAULT, iommu.translate(Machine.BLOCK_DEVICE_ID, stale, Translation.READ), "and closed");
            // Steady state: the same buffer used again and again is mapped again before each flush;
            // the later I/Os still complete and move the right bytes.
            byte[] data = new byte[4096];
            new Random(3).nextBytes(data);
            for (int i = 0; i < 100; i++) {
                assertEquals(4096, io.write(8192, buffer, data));
            }
            assertArrayEquals(data, io.read(8192, io.buffer(4096, 0), 4096));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"strict", "deferred"})
    void afterAGrantMappedIoThePartitionsDeviceReachesNoWindowPage(String invalidation) {
        try (IoPath path = Placement.IO_PARTITION.open(config().iommuInvalidation(invalidation), 4, GrantMode.MAP)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(16384, 0);
            assertEquals(16384, io.io(Aio.PWRITE, 0, buffer, 16384));
            Domain partition = ((IoPartitionPlacement) path).partition();
            Iommu iommu = path.machine().iommu();
            for (long page = 0; page < 64; page++) {
                long gpa = partition.windowStart() + (page << MachineMemory.PAGE_SHIFT);
                assertEquals(-Errno.EFAULT, iommu.translate(Machine.BLOCK_DEVICE_ID, gpa, Translation.READ),
                    "window page " + page + " is unmapped and invalidated in " + invalidation + " mode too");
            }
            assertEquals(0, iommu.staleSuccesses());
        }
    }

    // ------------------------------------------------------------------ exclusion vector, off

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"NATIVE", "HYPERVISOR_PV", "HYPERVISOR_TRAP", "IO_PARTITION",
        "DOM0_EMULATOR", "CHANNEL_PROGRAM"})
    void withAnExclusionVectorOrNoIommuTheDataStillMovesAndExclusionKeepsTheHypervisorOut(Placement placement) {
        for (String mode : new String[] {"exclusion", "off"}) {
            try (IoPath path = placement.open(config().iommu(mode), 2)) {
                IoDriver io = new IoDriver(path);
                byte[] data = new byte[8192];
                new Random(4).nextBytes(data);
                assertEquals(8192, io.write(4096, io.buffer(8192, 512), data), mode);
                assertArrayEquals(data, io.read(4096, io.buffer(8192, 0), 8192), mode);
                FrameAllocator frames = path.machine().frames();
                int checked = 0;
                for (int mfn = 0; mfn < frames.frames(); mfn++) {
                    if (frames.owner(mfn) == FrameAllocator.OWNER_HYPERVISOR) {
                        long r = path.machine().iommu().translate(Machine.BLOCK_DEVICE_ID, (long) mfn << 12, Translation.WRITE);
                        if ("exclusion".equals(mode)) {
                            assertEquals(-Errno.EFAULT, r, mode + ": hypervisor frame " + mfn);
                        }
                        checked++;
                    }
                }
                assertTrue(placement == Placement.NATIVE || checked > 0, "the machine has hypervisor frames to check");
            }
        }
    }

    // ------------------------------------------------------------------ the IOMMU hypercalls

    @Test
    void aDeviceOwnerMapsOnlyItsOwnFramesInItsOwnIoTable() {
        try (IoPath path = Placement.PASSTHROUGH.open(config(), 1)) {
            PassthroughPlacement p = (PassthroughPlacement) path;
            Hypervisor hv = p.hypervisor();
            Domain guest = p.guest();
            Cpu cpu = path.cpu();
            DomainMemory memory = (DomainMemory) path.app().memory();
            long page = memory.allocate(1);
            long ma = memory.hostTranslate(page);
            Iommu iommu = path.machine().iommu();
            int dev = Machine.BLOCK_DEVICE_ID;
            Domain other = hv.createDomain("other", "other", 1L << 20, false);

            cpu.start(other.kernel());
            assertEquals(-Errno.EPERM, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_OWN_TABLE, dev, 0, 0),
                "only the device's owner");
            assertEquals(-Errno.EPERM, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_FLUSH, 0, 0, 0));
            cpu.start(guest.kernel());
            assertEquals(page, iommu.translate(dev, page, Translation.READ) - ma + page, "before: the p2m is the I/O table");
            assertEquals(0, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_OWN_TABLE, dev, 0, 0));
            assertEquals(-Errno.EEXIST, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_OWN_TABLE, dev, 0, 0));
            assertEquals(-Errno.EFAULT, iommu.translate(dev, page, Translation.READ), "an empty table reaches nothing");
            assertThrows(IllegalStateException.class, () -> hv.assignDevice(dev, other),
                "a device in its owner's own table is not handed on with it");

            long iova = 0x7000_0000L;
            long r = Translation.READ;
            assertEquals(0, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, iova, page | r));
            assertEquals(ma + 12, iommu.translate(dev, iova + 12, Translation.READ));
            assertEquals(-Errno.EFAULT, iommu.translate(dev, iova, Translation.WRITE), "mapped read-only");
            assertEquals(-Errno.EEXIST, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, iova, page | r));
            assertEquals(-Errno.EPERM, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, iova + 4096,
                guest.sharedInfoGpa() | r), "the shared-info page is not the guest's frame");
            assertEquals(-Errno.EFAULT, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, iova + 4096,
                (1L << 36) | r), "not in the guest");
            assertEquals(-Errno.EINVAL, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, iova + 100, page | r));
            assertEquals(-Errno.EINVAL, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, iova + 4096, page),
                "no permission");
            assertEquals(-Errno.EINVAL, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, dev, -4096, page | r));
            assertEquals(-Errno.EINVAL, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, 999, iova, page | r));
            assertEquals(-Errno.EINVAL, hv.hypercall(cpu, Hypercall.IOMMU_OP, 77, dev, iova, page | r));

            assertEquals(-Errno.EBUSY, hv.exchangeContiguous(guest, page, 1),
                "a frame the device can reach does not leave the domain");
            assertEquals(0, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_UNMAP, dev, iova, 0));
            assertEquals(-Errno.EFAULT, iommu.translate(dev, iova, Translation.READ), "strict: gone at once");
            assertEquals(-Errno.ENOENT, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_UNMAP, dev, iova, 0));
            assertEquals(0, hv.exchangeContiguous(guest, page, 1), "unmapped: the frame may change hands");
            assertEquals(0, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_FLUSH, 0, 0, 0));
            cpu.start(path.app().kernel().appContext());
        }
    }

    // ------------------------------------------------------------------ a fault storm from a guest

    @Test
    void aGuestsFaultStormOverflowsTheLogAndTheDeviceKeepsWorking() {
        try (ChannelProgramTest.Guest g = new ChannelProgramTest.Guest(Placement.CHANNEL_PROGRAM_IOMMU)) {
            Iommu iommu = g.path.machine().iommu();
            ChannelProgramTest.Chain bad = new ChannelProgramTest.Chain()
                .command(org.hvbench.core.dev.ChannelCommand.WRITE, false, 4096, 0, 1L << 36);
            for (int i = 0; i < 3000; i++) {
                assertEquals(0, g.start(bad));
                g.run();
                assertEquals(-Errno.EFAULT, g.statusResult());
            }
            assertTrue(iommu.faults().overflowed() > 0, "more faults than the log holds");
            assertEquals(3000, iommu.faults().recorded() + iommu.faults().overflowed());
            int[] seen = new int[1];
            int drained = iommu.faults().drain((device, iova, access) -> {
                assertEquals(Machine.BLOCK_DEVICE_ID, device);
                assertEquals(1L << 36, iova);
                seen[0]++;
            });
            assertEquals(iommu.faults().recorded(), drained);
            // The device and the log keep working.
            IoDriver io = new IoDriver(g.path);
            assertEquals(4096, io.io(Aio.PWRITE, 0, io.buffer(4096, 0), 4096));
            assertEquals(0, g.start(bad));
            g.run();
            assertEquals(1, iommu.faults().drain((device, iova, access) -> { }));
        }
    }
}
