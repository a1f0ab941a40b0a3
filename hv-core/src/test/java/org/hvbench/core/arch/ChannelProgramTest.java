package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.ChannelCommand;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.VmExit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Channel programs: one trapped start-I/O per chain, 8 crossings for a chain of any length; a bad
 * chain refused whole before any byte moves; the hypervisor's copy immune to later changes by the
 * guest, the IOMMU variant running the guest's own (self-modifying) chain and still confined to the
 * guest's memory.
 */
class ChannelProgramTest {
    private static final long DISK = 4L << 20;

    private static IoPath open(Placement placement, int depth) {
        return placement.open(MachineConfig.defaults().memory(64L << 20).diskBytes(DISK), depth);
    }

    @ParameterizedTest(name = "{0}, chain of {1}")
    @CsvSource({"channel-program, 1", "channel-program, 8", "channel-program, 32",
        "channel-program-iommu, 1", "channel-program-iommu, 8", "channel-program-iommu, 32"})
    void aChainOfAnyLengthCostsEightCrossings(String name, int n) {
        try (IoPath path = open(Placement.parse(name), n)) {
            InlineExecutor executor = new InlineExecutor(path);
            byte[][] data = new byte[n][4096];
            for (int i = 0; i < n; i++) {
                new Random(i).nextBytes(data[i]);
                long buffer = path.app().allocateBuffer(4096);
                path.app().memory().hostWrite(buffer, data[i], 0, 4096);
                path.app().prepare(path.cpu(), i, Aio.PWRITE, (long) i * 8192, buffer, 4096, 100 + i);
            }
            CrossingTrace trace = path.trace();
            trace.startRecording();
            executor.runBatch(n);
            trace.stopRecording();
            List<String> steps = new ArrayList<>();
            for (int i = 0; i < trace.size(); i++) {
                steps.add(trace.kind(i) + " " + trace.from(i) + "->" + trace.to(i));
            }
            assertEquals(List.of(
                "SYSCALL guest-app->guest-kernel",
                "VMEXIT guest-kernel->hypervisor",
                "DEVICE_START hypervisor->device",
                "VMENTRY hypervisor->guest-kernel",
                "SYSRET guest-kernel->guest-app",
                "DEVICE_IRQ device->hypervisor",
                "VIRQ hypervisor->guest-kernel",
                "UPCALL guest-kernel->guest-app"), steps, n + " I/Os in one chain");
            assertEquals(0, trace.idleSwitches());
            assertEquals(1, ((ChannelPlacement) path).driver().chains(), "one chain");
            for (int i = 0; i < n; i++) {
                assertEquals(4096, path.app().result(100 + i), "I/O " + i);
                byte[] onDisk = new byte[4096];
                path.machine().backing().peek((long) i * 8192, onDisk, 0, 4096);
                assertArrayEquals(data[i], onDisk, "I/O " + i + " landed at its sector");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"CHANNEL_PROGRAM", "CHANNEL_PROGRAM_IOMMU"})
    void moreRequestsThanOneChainHoldsGoOutAsTheNextChainFromTheInterrupt(Placement placement) {
        // 128 I/Os of 4 KiB: two chains of 64 commands, the second started by the first's interrupt.
        try (IoPath path = open(placement, 128)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4096 * 128, 0);
            for (int i = 0; i < 128; i++) {
                path.app().prepare(path.cpu(), i, Aio.PREAD, (long) i * 4096, buffer + (long) i * 4096, 4096, i);
            }
            io.executor.runBatch(128);
            assertEquals(2, ((ChannelPlacement) path).driver().chains());
            for (int i = 0; i < 128; i++) {
                assertEquals(4096, path.app().result(i));
            }
            assertEquals(0, path.app().kernel().badCompletions());
        }
    }

    // ------------------------------------------------------------------ hand-written chains

    /** A chain under construction: 16-byte commands in guest memory. */
    static final class Chain {
        final ByteBuffer bytes = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        int commands;

        Chain command(int command, boolean chained, int count, long sector, long address) {
            int at = commands++ * ChannelCommand.BYTES;
            bytes.put(at + ChannelCommand.COMMAND, (byte) command);
            bytes.put(at + ChannelCommand.FLAGS, (byte) (chained ? ChannelCommand.CC : 0));
            bytes.putShort(at + ChannelCommand.COUNT, (short) count);
            bytes.putInt(at + ChannelCommand.SECTOR, (int) sector);
            bytes.putLong(at + ChannelCommand.ADDRESS, address);
            return this;
        }
    }

    /** A guest, its memory, a data page, a chain page and a status page, with helpers to start chains. */
    static final class Guest implements AutoCloseable {
        final IoPath path;
        final ChannelPlacement placement;
        final Domain domain;
        final DomainMemory memory;
        final long data;
        final long chainPage;
        final long statusPage;
        final byte[] junk = new byte[4096];

        Guest(Placement which) {
            path = open(which, 4);
            placement = (ChannelPlacement) path;
            domain = placement.guest();
            memory = (DomainMemory) path.app().memory();
            data = memory.allocate(1);
            chainPage = memory.allocate(1);
            statusPage = memory.allocate(1);
            new Random(9).nextBytes(junk);
            memory.hostWrite(data, junk, 0, junk.length);
        }

        void write(Chain chain) {
            memory.hostWrite(chainPage, chain.bytes.array(), 0, 4096);
        }

        /** The start-I/O as the guest kernel executes it: the condition code. */
        long startIo(long chainGpa, long statusGpa) {
            path.cpu().start(domain.kernel());
            try {
                return placement.hypervisor().vmexit(path.cpu(), VmExit.START_IO, chainGpa, statusGpa);
            } finally {
                path.cpu().start(path.app().kernel().appContext());
            }
        }

        long start(Chain chain) {
            write(chain);
            return startIo(chainPage, statusPage);
        }

        void run() {
            new InlineExecutor(path).runUntilIdle();
        }

        int statusDone() {
            return ByteBuffer.wrap(memory.hostRead(statusPage, 8)).order(ByteOrder.LITTLE_ENDIAN).getInt(ChannelCommand.STATUS_DONE);
        }

        int statusResult() {
            return ByteBuffer.wrap(memory.hostRead(statusPage, 8)).order(ByteOrder.LITTLE_ENDIAN).getInt(ChannelCommand.STATUS_RESULT);
        }

        byte[] disk(long sector, int bytes) {
            byte[] out = new byte[bytes];
            path.machine().backing().peek(sector * 512, out, 0, bytes);
            return out;
        }

        @Override
        public void close() {
            path.close();
        }
    }

    /** Bad chains; each begins with a valid write of sector 0 that must not happen either. */
    static Stream<Arguments> badChains() {
        List<Arguments> cases = new ArrayList<>();
        cases.add(Arguments.of("a data address outside the guest", Errno.EFAULT,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.WRITE, false, 4096, 8, 1L << 36)));
        cases.add(Arguments.of("a read into an address outside the guest", Errno.EFAULT,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.READ, false, 4096, 8, 1L << 36)));
        cases.add(Arguments.of("an unknown command", Errno.EOPNOTSUPP,
            (Function<Guest, Chain>) g -> first(g).command(0x04, false, 4096, 8, g.data)));
        cases.add(Arguments.of("a chain longer than the limit", Errno.E2BIG, (Function<Guest, Chain>) g -> {
            Chain c = first(g);
            for (int i = 1; i <= ChannelCommand.MAX_CHAIN; i++) {
                c.command(ChannelCommand.WRITE, i < ChannelCommand.MAX_CHAIN, 512, 8 + i, g.data);
            }
            return c;
        }));
        cases.add(Arguments.of("a TIC back to the first command", Errno.ELOOP,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.TIC, false, 0, 0, g.chainPage)));
        cases.add(Arguments.of("a TIC to itself", Errno.ELOOP,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.TIC, false, 0, 0, g.chainPage + 16)));
        cases.add(Arguments.of("a TIC to a misaligned command", Errno.EINVAL,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.TIC, false, 0, 0, g.chainPage + 40)));
        cases.add(Arguments.of("a TIC out of the guest", Errno.EFAULT,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.TIC, false, 0, 0, 1L << 36)));
        cases.add(Arguments.of("sectors past the disk", Errno.ENOSPC,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.WRITE, false, 4096, DISK / 512 - 4, g.data)));
        cases.add(Arguments.of("a count of no whole sectors", Errno.EINVAL,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.WRITE, false, 1000, 8, g.data)));
        cases.add(Arguments.of("a transfer across a page end", Errno.EINVAL,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.WRITE, false, 4096, 8, g.data + 512)));
        cases.add(Arguments.of("a control command with a count", Errno.EINVAL,
            (Function<Guest, Chain>) g -> first(g).command(ChannelCommand.CONTROL, false, 512, 0, 0)));
        return cases.stream();
    }

    private static Chain first(Guest g) {
        return new Chain().command(ChannelCommand.WRITE, true, 4096, 0, g.data);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badChains")
    void theHypervisorRefusesABadChainWholeBeforeAnyByteMoves(String what, int errno, Function<Guest, Chain> chain) {
        try (Guest g = new Guest(Placement.CHANNEL_PROGRAM)) {
            g.write(chain.apply(g));
            MachineSnapshot before = MachineSnapshot.of(g.path.machine(), -1);
            long commands = g.path.machine().device().commands();
            assertEquals(-errno, g.startIo(g.chainPage, g.statusPage), what);
            g.run();
            before.assertUnchanged(g.path.machine(), what);
            assertEquals(commands, g.path.machine().device().commands(), "the device ran nothing");
            assertEquals(0, g.start(first(g).command(ChannelCommand.WRITE, false, 512, 8, g.data)),
                "the next good chain is taken");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badChains")
    void theChannelRefusesABadChainWholeBeforeAnyByteMovesThroughTheIommu(String what, int errno, Function<Guest, Chain> chain) {
        try (Guest g = new Guest(Placement.CHANNEL_PROGRAM_IOMMU)) {
            MachineSnapshot others = MachineSnapshot.of(g.path.machine(), g.domain.id());
            byte[] dataBefore = g.memory.hostRead(g.data, 4096);
            long commands = g.path.machine().device().commands();
            assertEquals(0, g.start(chain.apply(g)), "the hypervisor does not look at the chain");
            g.run();
            assertEquals(-errno, g.statusResult(), what);
            assertEquals(0, g.statusDone(), "no command ran");
            others.assertUnchanged(g.path.machine(), what);
            assertArrayEquals(new byte[4096], g.disk(0, 4096), "the first command did not run");
            assertArrayEquals(dataBefore, g.memory.hostRead(g.data, 4096), "the guest's data page is untouched");
            assertEquals(commands, g.path.machine().device().commands());
        }
    }

    @Test
    void aChainChangedAfterItsStartRunsAsItWasCopied() {
        try (Guest g = new Guest(Placement.CHANNEL_PROGRAM)) {
            long other = g.memory.allocate(1);
            assertEquals(0, g.start(new Chain().command(ChannelCommand.WRITE, false, 4096, 8, g.data)));
            // After the start, before the device runs: point the command at another page and sector.
            g.write(new Chain().command(ChannelCommand.WRITE, false, 4096, 64, other));
            g.run();
            assertArrayEquals(g.junk, g.disk(8, 4096), "the copied command ran");
            assertArrayEquals(new byte[4096], g.disk(64, 4096), "the rewritten one did not");
            assertEquals(1, g.statusDone());
            assertEquals(0, g.statusResult());
        }
    }

    /**
     * A self-modifying chain: its first command reads a sector over its own second command. The
     * hypervisor runs its copy (the rewrite has no effect, as CP/67 had to insist); the device working
     * through the IOMMU runs what was read.
     */
    @ParameterizedTest
    @CsvSource({"channel-program, 100", "channel-program-iommu, 200"})
    void aSelfModifyingChainRunsWhatItReadOnlyWhenTheDeviceFetchesThroughTheIommu(String name, long expectedSector) {
        try (Guest g = new Guest(Placement.parse(name))) {
            // Sector 40 of the disk holds a command: write the data page to sector 200.
            Chain loaded = new Chain().command(ChannelCommand.WRITE, false, 4096, 200, g.data);
            long staging = g.memory.allocate(1);
            g.memory.hostWrite(staging, loaded.bytes.array(), 0, 512);
            assertEquals(0, g.start(new Chain().command(ChannelCommand.WRITE, false, 512, 40, staging)));
            g.run();
            Chain chain = new Chain()
                .command(ChannelCommand.READ, true, 512, 40, g.chainPage + 16)
                .command(ChannelCommand.WRITE, false, 4096, 100, g.data);
            assertEquals(0, g.start(chain));
            g.run();
            assertEquals(2, g.statusDone());
            assertArrayEquals(g.junk, g.disk(expectedSector, 4096), "the command that ran wrote sector " + expectedSector);
            assertArrayEquals(new byte[4096], g.disk(300 - expectedSector, 4096), "the other one did not");
        }
    }

    @Test
    void aChainThatRewritesItselfIntoABadCommandIsStoppedThereByTheIommu() {
        try (Guest g = new Guest(Placement.CHANNEL_PROGRAM_IOMMU)) {
            Chain loaded = new Chain().command(ChannelCommand.WRITE, false, 4096, 200, 1L << 36);
            long staging = g.memory.allocate(1);
            g.memory.hostWrite(staging, loaded.bytes.array(), 0, 512);
            assertEquals(0, g.start(new Chain().command(ChannelCommand.WRITE, false, 512, 40, staging)));
            g.run();
            MachineSnapshot others = MachineSnapshot.of(g.path.machine(), g.domain.id());
            long faults = g.path.machine().iommu().faults().recorded();
            assertEquals(0, g.start(new Chain()
                .command(ChannelCommand.READ, true, 512, 40, g.chainPage + 16)
                .command(ChannelCommand.WRITE, false, 4096, 100, g.data)));
            g.run();
            assertEquals(1, g.statusDone(), "the read ran");
            assertEquals(-Errno.EFAULT, g.statusResult(), "the command it read was refused");
            assertEquals(faults + 1, g.path.machine().iommu().faults().recorded(), "the IOMMU logged the fault");
            others.assertUnchanged(g.path.machine(), "a chain that rewrote itself");
            assertArrayEquals(new byte[4096], g.disk(200, 4096));
        }
    }

    @Test
    void aSecondStartWhileAChainRunsIsBusy() {
        for (Placement p : new Placement[] {Placement.CHANNEL_PROGRAM, Placement.CHANNEL_PROGRAM_IOMMU}) {
            try (Guest g = new Guest(p)) {
                Chain chain = new Chain().command(ChannelCommand.WRITE, false, 4096, 8, g.data);
                assertEquals(0, g.start(chain), p.id());
                assertEquals(-Errno.EBUSY, g.start(chain), p.id() + ": one chain at a time");
                g.run();
                assertEquals(0, g.start(chain), p.id() + ": free again after the interrupt");
                g.run();
            }
        }
    }

    @Test
    void aDomainWithoutTheDeviceCannotStartTheGuestsChannel() {
        try (Guest g = new Guest(Placement.CHANNEL_PROGRAM_IOMMU)) {
            Domain intruder = g.placement.hypervisor().createDomain("intruder", "intruder", 1L << 20, false);
            intruder.setChannelHandler(g.placement.direct());
            g.path.cpu().start(intruder.kernel());
            long r = g.placement.hypervisor().vmexit(g.path.cpu(), VmExit.START_IO, 4096, 8192);
            g.path.cpu().start(g.path.app().kernel().appContext());
            assertEquals(-Errno.EPERM, r);
            assertTrue(g.placement.direct().refused() > 0);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"CHANNEL_PROGRAM", "CHANNEL_PROGRAM_IOMMU"})
    void aFailedCommandStopsItsRequestAndCancelsTheRest(Placement placement) {
        try (IoPath path = open(placement, 4)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4 * 4096, 0);
            path.app().prepare(path.cpu(), 0, Aio.PWRITE, 0, buffer, 4096, 1);
            path.app().prepare(path.cpu(), 1, Aio.PWRITE, DISK - 2048, buffer + 4096, 4096, 2);
            path.app().prepare(path.cpu(), 2, Aio.PWRITE, 8192, buffer + 8192, 4096, 3);
            io.executor.runBatch(3);
            assertEquals(-Errno.ENOSPC, path.app().result(2), "past the disk");
            if (placement == Placement.CHANNEL_PROGRAM) {
                // The hypervisor refuses the whole chain at its start.
                assertEquals(-Errno.ENOSPC, path.app().result(1));
                assertEquals(-Errno.ENOSPC, path.app().result(3));
            } else {
                // The channel refuses the whole chain in its checking pass: no command ran.
                assertEquals(-Errno.ECANCELED, path.app().result(1));
                assertEquals(-Errno.ECANCELED, path.app().result(3));
            }
            assertEquals(4096, io.io(Aio.PWRITE, 0, buffer, 4096), "the next chain works");
        }
    }
}
