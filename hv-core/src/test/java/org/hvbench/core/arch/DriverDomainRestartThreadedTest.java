package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.exec.ThreadedExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.BlockFront;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.mem.FrameAllocator;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The driver-domain restart of {@link DriverDomainRestartTest} with the partition and the device on
 * threads of their own: the threaded executor runs a batch and is stopped after a chosen number of
 * completions, which leaves the rest wherever the threads had got to; the toolstack then destroys
 * and rebuilds the partition (the executor stopped: the domain paused, the device quiet, as
 * {@code xl destroy} pauses a domain and resets its device), and a new executor finishes the batch.
 * Every I/O is either answered by the old partition and seen by the app (while the threads ran, or at
 * the close, from the old ring) or sent again to the new one: exactly one of the two, and seen once.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DriverDomainRestartThreadedTest {
    private static final int DEPTH = 16;
    private static final int[] STOP_AFTER = {0, 1, 3, 6, 10, 15};

    @TempDir
    Path dir;

    private static long offset(int io) {
        return 4096 + (long) io * (64 << 10);
    }

    @ParameterizedTest
    @EnumSource(GrantMode.class)
    void restartsWithRequestsInFlightOnThreads(GrantMode mode) throws IOException {
        Path file = dir.resolve("disk.img");
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(DriverDomainRestartTest.DISK_BYTES)
            .queueEntries(4).diskFile(file);
        Random random = new Random(mode.ordinal());
        byte[][] model = new byte[DEPTH][DriverDomainRestartTest.IO_BYTES];
        long reissued = 0;
        long answeredAtClose = 0;
        try (IoPath path = Placement.IO_PARTITION.open(config, DEPTH, mode, CpuLayout.CPU_PER_DOMAIN)) {
            IoPartitionPlacement p = (IoPartitionPlacement) path;
            App app = path.app();
            Cpu cpu = path.cpu();
            BlockFront front = p.front();
            FrameAllocator frames = path.machine().frames();
            long[] buffers = new long[DEPTH];
            for (int i = 0; i < DEPTH; i++) {
                buffers[i] = app.allocateBuffer(DriverDomainRestartTest.IO_BYTES);
                random.nextBytes(model[i]);
            }
            writeAll(path, buffers, model);

            for (int round = 0; round < STOP_AFTER.length; round++) {
                long userData = 100L * (round + 1);
                byte[][] written = new byte[DEPTH][];
                for (int i = 0; i < DEPTH; i += 2) {
                    written[i] = new byte[DriverDomainRestartTest.IO_BYTES];
                    random.nextBytes(written[i]);
                }
                long before = app.completed();
                prepare(path, buffers, written, userData);
                if (STOP_AFTER[round] == 0) {
                    // No thread runs: the back end takes what the device has room for, nothing more happens.
                    assertEquals(DEPTH, app.submit(cpu, 0, DEPTH));
                } else {
                    try (ThreadedExecutor executor = new ThreadedExecutor(path, IdleMode.BACKOFF)) {
                        assertEquals(DEPTH, app.submit(cpu, 0, DEPTH));
                        executor.awaitCompletions(before + STOP_AFTER[round]);
                    }
                }
                long seenRunning = app.completed() - before;

                Domain old = p.partition();
                int free = frames.freeFrames() + frames.countOwnedBy(old.id()) + old.space().table().tableFrames() + 1;
                long closedBefore = front.answeredAtClose();
                long reissuedBefore = front.reissued();
                p.destroyPartition();
                assertEquals(free, frames.freeFrames(), "round " + round + ": every frame of the partition is free");
                assertEquals(0, p.grantOps().pinned(p.guest()));
                DriverDomainRestartTest.assertNoEntryInUse(p.guestGrants());
                // Seen now: what the app saw while the threads ran, what the guest took when its pending
                // event was delivered on its close hypercall, and what it took from the old ring at the close.
                long seen = app.completed() - before;
                long drained = front.answeredAtClose() - closedBefore;
                assertTrue(seen >= seenRunning + drained);
                p.rebuildPartition();
                long again = front.reissued() - reissuedBefore;
                assertEquals(DEPTH, seen + again, "round " + round + ": seen " + seenRunning + " running, " + seen
                    + " after the close (" + drained + " from the old ring), sent again " + again);
                answeredAtClose += drained;
                reissued += again;

                if (STOP_AFTER[round] == 0) {
                    assertEquals(DEPTH, again, "nothing ran: every I/O is sent again");
                }
                try (ThreadedExecutor executor = new ThreadedExecutor(path, IdleMode.BACKOFF)) {
                    executor.awaitCompletions(before + DEPTH);
                }
                assertEquals(before + DEPTH, app.completed(), "round " + round + ": each I/O completed exactly once");
                for (int i = 0; i < DEPTH; i++) {
                    assertEquals(DriverDomainRestartTest.IO_BYTES, app.result(userData + i), "round " + round + ", I/O " + i);
                    if (written[i] != null) {
                        model[i] = written[i];
                    } else {
                        assertArrayEquals(model[i], app.memory().hostRead(buffers[i], DriverDomainRestartTest.IO_BYTES),
                            "round " + round + ": read " + i);
                    }
                }
            }
            assertEquals(0, app.errors());
            assertEquals(0, app.kernel().badCompletions());
            assertEquals(0, front.badResponses());
            assertEquals(STOP_AFTER.length, front.reconnections());
            // How many of the rounds with threads catch an I/O unanswered depends on how far the
            // threads got before they stopped (on a busy machine they may finish every one): what is
            // asserted is the split above, per round, and that the counts add up.
            assertEquals(reissued, front.reissued(), "requests sent again, over the rounds");
            assertEquals(answeredAtClose, front.answeredAtClose(), "requests taken from an old ring, over the rounds");
        }
        DriverDomainRestartTest.assertFileHolds(file, model);
        DriverDomainRestartTest.assertFreshFrontEndReads(config, mode, model);
    }

    /** Fills control blocks: even I/Os write {@code written[i]}, odd ones read. */
    private static void prepare(IoPath path, long[] buffers, byte[][] written, long userData) {
        App app = path.app();
        for (int i = 0; i < DEPTH; i++) {
            boolean write = written[i] != null;
            if (write) {
                app.memory().hostWrite(buffers[i], written[i], 0, written[i].length);
            }
            app.prepare(path.cpu(), i, write ? Aio.PWRITE : Aio.PREAD, offset(i), buffers[i],
                DriverDomainRestartTest.IO_BYTES, userData + i);
        }
    }

    /** Writes {@code data} at every I/O's place with one threaded batch. */
    private static void writeAll(IoPath path, long[] buffers, byte[][] data) {
        try (ThreadedExecutor executor = new ThreadedExecutor(path, IdleMode.BACKOFF)) {
            prepare(path, buffers, data, 0);
            executor.runBatch(DEPTH);
        }
    }
}
