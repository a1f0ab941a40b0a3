package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.stream.Stream;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.BlockFront;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Store;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.FrameAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The driver domain is destroyed with reads and writes caught at each stage of the split-driver
 * pipeline and rebuilt on the same file disk, in the inline executor, where each stage can be
 * reached exactly: every I/O completes once for the app, what was answered before the crash is not
 * sent again, no acknowledged write is lost (the file read directly and through a fresh front end on
 * a new machine), the destroyed domain leaves no frame, grant pin or port behind, and no other
 * domain's memory changes. {@link DriverDomainRestartThreadedTest} does the same with threads.
 */
class DriverDomainRestartTest {
    static final long DISK_BYTES = 8L << 20;
    static final int IOS = 8;
    static final int IO_BYTES = 8192;
    static final long USER_DATA = 1000;

    @TempDir
    Path dir;

    static MachineConfig config(Path file) {
        // Two device slots: the back end takes two requests at a time and leaves the rest on the ring.
        return MachineConfig.defaults().memory(96L << 20).diskBytes(DISK_BYTES).queueEntries(2).diskFile(file);
    }

    static long offset(int io) {
        return 4096 + (long) io * (64 << 10);
    }

    /** Where the app's I/Os are when the partition is destroyed, after the inline steps that put them there. */
    enum Stage {
        /** Submitted: two taken by the back end and on the device's queue, six still on the ring. */
        TAKEN_AND_ON_THE_RING(1, 0, 2, 0),
        /** The device ran the two taken (the disk holds the writes) and interrupted; nothing answered. */
        WRITTEN_NOT_ANSWERED(2, 2, 2, 0),
        /** Those two answered on the ring behind the guest's masked port; two more taken, four on the ring. */
        ANSWERED_NOT_SEEN(3, 2, 4, 2),
        /** As before, and the device ran the next two too: one pair in each state but "taken". */
        ANSWERED_AND_WRITTEN(4, 4, 4, 2);

        final int steps;
        final long deviceCommands;
        final long taken;
        final int answeredUnseen;

        Stage(int steps, long deviceCommands, long taken, int answeredUnseen) {
            this.steps = steps;
            this.deviceCommands = deviceCommands;
            this.taken = taken;
            this.answeredUnseen = answeredUnseen;
        }
    }

    static Stream<Arguments> stages() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (GrantMode mode : GrantMode.values()) {
            for (Stage stage : Stage.values()) {
                cases.add(Arguments.of(mode, stage));
            }
        }
        return cases.build();
    }

    /** Writes random data at every I/O's place and returns it: what the disk must hold. */
    static byte[][] prefill(IoDriver io, Random random) {
        byte[][] model = new byte[IOS][IO_BYTES];
        for (int i = 0; i < IOS; i++) {
            random.nextBytes(model[i]);
            assertEquals(IO_BYTES, io.write(offset(i), io.buffer(IO_BYTES, 0), model[i]));
        }
        return model;
    }

    /** A bystander domain full of random bytes: nobody may change it. */
    static Domain bystander(IoPartitionPlacement p) {
        Domain d = p.hypervisor().createDomain("bystander", "bystander", 1L << 20, false);
        DomainMemory memory = new DomainMemory(d, p.machine().memory());
        byte[] junk = new byte[(1 << 20) - 4096];
        new Random(9).nextBytes(junk);
        memory.hostWrite(4096, junk, 0, junk.length);
        return d;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("stages")
    void requestsCaughtAtEachStageCompleteOnceAndNoAcknowledgedWriteIsLost(GrantMode mode, Stage stage) throws IOException {
        Path file = dir.resolve("disk.img");
        Random random = new Random(mode.ordinal() * 10 + stage.ordinal());
        byte[][] model;
        try (IoPath path = Placement.IO_PARTITION.open(config(file), 16, mode)) {
            IoPartitionPlacement p = (IoPartitionPlacement) path;
            IoDriver io = new IoDriver(path);
            model = prefill(io, random);
            bystander(p);
            App app = path.app();
            Cpu cpu = path.cpu();
            BlockFront front = p.front();

            // Even I/Os write new data, odd ones read what the prefill wrote.
            byte[][] written = new byte[IOS][];
            long[] buffers = new long[IOS];
            for (int i = 0; i < IOS; i++) {
                buffers[i] = io.buffer(IO_BYTES, 0);
                int opcode = i % 2 == 0 ? Aio.PWRITE : Aio.PREAD;
                if (opcode == Aio.PWRITE) {
                    written[i] = new byte[IO_BYTES];
                    random.nextBytes(written[i]);
                    app.memory().hostWrite(buffers[i], written[i], 0, IO_BYTES);
                }
                app.prepare(cpu, i, opcode, offset(i), buffers[i], IO_BYTES, USER_DATA + i);
            }
            long before = app.completed();
            long commandsBefore = path.machine().device().commands();
            long takenBefore = p.back().requests();

            bringTo(stage, p);
            assertEquals(stage.deviceCommands, path.machine().device().commands() - commandsBefore, "commands the device ran");
            assertEquals(stage.taken, p.back().requests() - takenBefore, "requests the back end took");
            assertEquals(before, app.completed(), "the app has seen nothing yet");
            int unseen = front.ring().unconsumedResponses();
            assertEquals(stage.answeredUnseen, unseen, "responses on the ring the guest has not taken");

            Domain old = p.partition();
            FrameAllocator frames = path.machine().frames();
            int owned = frames.countOwnedBy(old.id());
            int tables = old.space().table().tableFrames();
            int free = frames.freeFrames();
            MachineSnapshot others = MachineSnapshot.of(path.machine(), new int[] {p.guest().id(), old.id()}, 0, DISK_BYTES);

            p.destroyPartition();
            assertEquals(Store.CLOSED, front.state());
            assertEquals(0, frames.countOwnedBy(old.id()), "no frame of the destroyed domain is left");
            assertEquals(free + owned + tables + 1, frames.freeFrames(), "its frames, tables and shared-info page are free");
            assertEquals(0, p.grantOps().pinned(p.guest()), "no grant of the guest is in use");
            assertNoEntryInUse(p.guestGrants());
            assertEquals(stage.answeredUnseen, front.answeredAtClose(), "answered before the crash: taken from the old ring");
            assertEquals(before + stage.answeredUnseen, app.completed());
            assertEquals(Errno.EAGAIN, -app.submit(cpu, 0, 1), "no back end: the kernel has no room");

            p.rebuildPartition();
            assertNotEquals(old.id(), p.partition().id(), "the new partition has a new id");
            assertEquals(Store.CONNECTED, front.state());
            assertEquals(1, front.reconnections());
            assertEquals(IOS - stage.answeredUnseen, front.reissued(), "every unanswered request sent again, once");

            new InlineExecutor(path).awaitCompletions(before + IOS);
            new InlineExecutor(path).runUntilIdle();
            assertEquals(before + IOS, app.completed(), "each I/O completed exactly once");
            for (int i = 0; i < IOS; i++) {
                assertEquals(IO_BYTES, app.result(USER_DATA + i), "I/O " + i);
            }
            assertEquals(0, app.errors());
            assertEquals(0, app.kernel().badCompletions());
            assertEquals(0, front.badResponses());
            others.assertUnchanged(path.machine(), "restart of the driver domain");

            for (int i = 0; i < IOS; i++) {
                if (written[i] != null) {
                    model[i] = written[i];
                } else {
                    assertArrayEquals(model[i], app.memory().hostRead(buffers[i], IO_BYTES), "read " + i + " brought the disk's data");
                }
            }
            for (int i = 0; i < IOS; i++) {
                assertArrayEquals(model[i], io.read(offset(i), io.buffer(IO_BYTES, 0), IO_BYTES), "read back through the front end");
            }
        }
        assertFileHolds(file, model);
        assertFreshFrontEndReads(config(file), mode, model);
    }

    /** Runs the inline steps that leave the prepared I/Os at {@code stage}. */
    static void bringTo(Stage stage, IoPartitionPlacement p) {
        Cpu cpu = p.cpu();
        App app = p.app();
        assertEquals(IOS, app.submit(cpu, 0, IOS), "the kernel took every I/O");
        if (stage.steps >= 2) {
            p.machine().device().doWork();
        }
        if (stage.steps >= 3) {
            // The guest's port masked: the back end's answer stays on the ring, unseen.
            ((EventDispatcher) p.guestEvents()).mask(p.front().port());
            cpu.deliverInterrupts();
            cpu.idleSwitch(app.kernel().appContext());
            cpu.rest();
        }
        if (stage.steps >= 4) {
            p.machine().device().doWork();
        }
    }

    static void assertNoEntryInUse(GrantTable grants) {
        for (int ref = 1; ref < grants.entries(); ref++) {
            assertEquals(0, GrantEntry.flags(grants.word(ref)) & GrantEntry.IN_USE, "grant " + ref + " still in use");
        }
    }

    /** The file itself, read without the machine, holds every acknowledged write. */
    static void assertFileHolds(Path file, byte[][] model) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            for (int i = 0; i < model.length; i++) {
                ByteBuffer b = ByteBuffer.allocate(IO_BYTES);
                while (b.hasRemaining() && channel.read(b, offset(i) + b.position()) > 0) {
                    // read on
                }
                assertArrayEquals(model[i], b.array(), "the file holds write " + i);
            }
        }
    }

    /** A new machine on the same file: a fresh front end reads every acknowledged write. */
    static void assertFreshFrontEndReads(MachineConfig config, GrantMode mode, byte[][] model) {
        try (IoPath fresh = Placement.IO_PARTITION.open(config, 1, mode)) {
            IoDriver io = new IoDriver(fresh);
            for (int i = 0; i < model.length; i++) {
                assertArrayEquals(model[i], io.read(offset(i), io.buffer(IO_BYTES, 0), IO_BYTES), "fresh front end, I/O " + i);
            }
        }
    }

    @Test
    void aDestroyedDomainsPeersGetErrnosAndItsOwnHypercallsAreRefused() {
        try (IoPath path = Placement.IO_PARTITION.open(config(dir.resolve("errno.img")), 4, GrantMode.MAP)) {
            IoPartitionPlacement p = (IoPartitionPlacement) path;
            Hypervisor hv = p.hypervisor();
            Cpu cpu = path.cpu();
            IoDriver io = new IoDriver(path);
            byte[] data = new byte[4096];
            new Random(5).nextBytes(data);
            assertEquals(4096, io.write(0, io.buffer(4096, 0), data));
            Domain dead = p.partition();
            Domain guest = p.guest();
            FrameAllocator frames = path.machine().frames();
            int[] deadFrames = new int[frames.countOwnedBy(dead.id()) + 1];
            for (int mfn = 0, n = 0; mfn < frames.frames(); mfn++) {
                if (frames.owner(mfn) == dead.id()) {
                    deadFrames[n++] = mfn;
                }
            }
            deadFrames[deadFrames.length - 1] = (int) (dead.sharedInfoMa() >>> 12);

            // The partition crashes: the hypervisor destroys it, and nobody has told the front end yet.
            hv.destroyDomain(dead);
            assertTrue(dead.destroyed());
            assertNull(hv.domain(dead.id()));
            assertEquals(0, p.grantOps().pinned(guest), "its mappings of the guest's pages are released");
            assertNoEntryInUse(p.guestGrants());

            cpu.start(guest.kernel());
            int port = p.front().port();
            assertEquals(-Errno.ENOTCONN, hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0, 0),
                "a send to the destroyed back end");
            assertEquals(-Errno.EINVAL, hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN,
                dead.id(), 1, 0), "binding to it");
            assertEquals(-Errno.ENOENT, hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND,
                dead.id(), 0, 0), "a port for it");
            cpu.start(dead.kernel());
            assertEquals(-Errno.EPERM, hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, 1, 0, 0),
                "it does not run any more: its hypercalls are refused");
            p.channels().deliver(cpu, dead, 1, "an event for a destroyed domain");
            hv.notify(cpu, dead, "a virtual interrupt for a destroyed domain");
            for (int mfn : deadFrames) {
                assertEquals(FrameAllocator.OWNER_FREE, frames.owner(mfn), "frame " + mfn + " is free");
                for (int off = 0; off < 4096; off += 8) {
                    assertEquals(0, path.machine().memory().getLong(((long) mfn << 12) + off), "frame " + mfn + " is scrubbed");
                }
            }
            assertThrows(IllegalArgumentException.class, () -> hv.destroyDomain(dead), "destroyed twice");
            assertThrows(IllegalArgumentException.class, () -> hv.destroyDomain(hv.dom0()));
            cpu.start(path.app().kernel().appContext());

            // The app writes meanwhile: the request waits on the ring, its event refused.
            byte[] later = new byte[4096];
            new Random(6).nextBytes(later);
            long buffer = io.buffer(4096, 0);
            path.app().memory().hostWrite(buffer, later, 0, later.length);
            path.app().prepare(cpu, 0, Aio.PWRITE, 4096, buffer, 4096, 77);
            long target = path.app().completed() + 1;
            assertEquals(1, path.app().submit(cpu, 0, 1));
            new InlineExecutor(path).runUntilIdle();
            assertEquals(target - 1, path.app().completed(), "nobody serves it");

            // The toolstack notices, cleans up and rebuilds: the request is sent again and completes.
            p.destroyPartition();
            p.rebuildPartition();
            assertEquals(1, p.front().reissued());
            new InlineExecutor(path).awaitCompletions(target);
            assertEquals(4096, path.app().result(77));
            byte[] onDisk = new byte[4096];
            path.machine().backing().peek(4096, onDisk, 0, 4096);
            assertArrayEquals(later, onDisk);
            assertArrayEquals(data, io.read(0, io.buffer(4096, 0), 4096), "the write before the crash is kept");
        }
    }

    @ParameterizedTest
    @EnumSource(GrantMode.class)
    void restartsLeakNoFrameGrantOrPort(GrantMode mode) {
        try (IoPath path = Placement.IO_PARTITION.open(config(dir.resolve("leak.img")), 16, mode)) {
            IoPartitionPlacement p = (IoPartitionPlacement) path;
            IoDriver io = new IoDriver(path);
            FrameAllocator frames = path.machine().frames();
            Random random = new Random(mode.ordinal());
            byte[][] model = prefill(io, random);
            int free = frames.freeFrames();
            int hypervisorFrames = frames.countOwnedBy(FrameAllocator.OWNER_HYPERVISOR);
            int freeRefs = p.guestGrants().freeReferences();
            int pinned = p.grantOps().pinned(p.guest());
            for (int round = 0; round < 4; round++) {
                Domain old = p.partition();
                p.destroyPartition();
                assertEquals(0, frames.countOwnedBy(old.id()));
                p.rebuildPartition();
                model = prefill(io, random);
                assertEquals(free, frames.freeFrames(), "round " + round + ": free frames");
                assertEquals(hypervisorFrames, frames.countOwnedBy(FrameAllocator.OWNER_HYPERVISOR), "round " + round);
                assertEquals(freeRefs, p.guestGrants().freeReferences(), "round " + round + ": the guest's free grant references");
                assertEquals(pinned, p.grantOps().pinned(p.guest()), "round " + round + ": grants in use");
                assertEquals(0, p.front().stuckNow());
            }
            for (int i = 0; i < IOS; i++) {
                assertArrayEquals(model[i], io.read(offset(i), io.buffer(IO_BYTES, 0), IO_BYTES));
            }
        }
    }
}
