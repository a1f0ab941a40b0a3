package org.hvbench.core.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.hvbench.core.arch.CpuLayout;
import org.hvbench.core.arch.IoPath;
import org.hvbench.core.arch.Placement;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.GrantMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The threaded executor moves the same bytes as the inline one, for every placement, RAM and file
 * disks, and every idle strategy, with the partition on a CPU and thread of its own; and it fails
 * loudly instead of hanging. Every wait is bounded by the executor's stall timeout, and the JUnit
 * timeout is the last resort.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ThreadedExecutorTest {
    private static final int DEPTH = 8;
    private static final int[] SIZES = {512, 4096, 3 * 4096 + 512, 64 << 10};

    @TempDir
    Path dir;

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (Placement p : Placement.values()) {
            for (IdleMode idle : IdleMode.values()) {
                for (boolean file : new boolean[] {false, true}) {
                    cases.add(Arguments.of(p, idle, file));
                }
            }
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1} file={2}")
    @MethodSource("cases")
    void threadedMovesTheSameBytesAsInline(Placement placement, IdleMode idle, boolean fileDisk) {
        byte[][] inline = run(placement, Executor.Kind.INLINE, idle, fileDisk ? dir.resolve("inline.img") : null);
        byte[][] threaded = run(placement, Executor.Kind.THREADED, idle, fileDisk ? dir.resolve("threaded.img") : null);
        assertEquals(inline.length, threaded.length);
        for (int i = 0; i < inline.length; i++) {
            assertArrayEquals(inline[i], threaded[i], "read-back " + i + " differs between the executors");
        }
    }

    /**
     * Writes random batches of {@link #DEPTH} I/Os of each size, reads them back in batches too, and
     * returns what was read, then the disk's bytes.
     */
    private static byte[][] run(Placement placement, Executor.Kind kind, IdleMode idle, Path file) {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(8L << 20);
        if (file != null) {
            config.diskFile(file);
        }
        List<byte[]> out = new ArrayList<>();
        Random random = new Random(placement.ordinal());
        try (IoPath path = placement.open(config, DEPTH, GrantMode.PERSISTENT, kind.layout());
             Executor executor = kind.start(path, idle)) {
            App app = path.app();
            long disk = 0;
            for (int size : SIZES) {
                long[] writeBuffers = new long[DEPTH];
                long[] readBuffers = new long[DEPTH];
                byte[][] written = new byte[DEPTH][size];
                for (int i = 0; i < DEPTH; i++) {
                    writeBuffers[i] = app.allocateBuffer(size);
                    readBuffers[i] = app.allocateBuffer(size);
                    random.nextBytes(written[i]);
                    app.memory().hostWrite(writeBuffers[i], written[i], 0, size);
                    app.prepare(path.cpu(), i, Aio.PWRITE, disk + (long) i * roundUp(size), writeBuffers[i], size, i);
                }
                executor.runBatch(DEPTH);
                for (int i = 0; i < DEPTH; i++) {
                    assertEquals(size, app.result(i), kind.id() + ": write " + i + " of " + size);
                    app.prepare(path.cpu(), i, Aio.PREAD, disk + (long) i * roundUp(size), readBuffers[i], size, i);
                }
                executor.runBatch(DEPTH);
                for (int i = 0; i < DEPTH; i++) {
                    assertEquals(size, app.result(i), kind.id() + ": read " + i + " of " + size);
                    byte[] read = app.memory().hostRead(readBuffers[i], size);
                    assertArrayEquals(written[i], read, kind.id() + ": read " + i + " of " + size + " is what was written");
                    out.add(read);
                }
                disk += (long) DEPTH * roundUp(size);
            }
            byte[] image = new byte[(int) disk];
            path.machine().backing().peek(0, image, 0, image.length);
            out.add(image);
            assertEquals(0, app.errors(), kind.id() + ": no I/O failed");
            assertEquals(0, app.kernel().badCompletions(), kind.id() + ": no completion was unknown or repeated");
        }
        return out.toArray(new byte[0][]);
    }

    private static int roundUp(int size) {
        return (size + 4095) & ~4095;
    }

    @Test
    void theSplitDriverPlacementsRunOnTwoCpus() {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(8L << 20);
        for (Placement p : new Placement[] {Placement.IO_PARTITION, Placement.DOM0_EMULATOR}) {
            try (IoPath path = p.open(config, 1, GrantMode.PERSISTENT, CpuLayout.CPU_PER_DOMAIN);
                 Executor executor = new ThreadedExecutor(path, IdleMode.BACKOFF)) {
                assertEquals(2, path.cpus().length, p + ": the partition has a CPU of its own");
                long buffer = path.app().allocateBuffer(4096);
                path.app().prepare(path.cpu(), 0, Aio.PREAD, 0, buffer, 4096, 0);
                long before = path.cpus()[1].trace().total();
                executor.runBatch(1);
                assertEquals(4096, path.app().result(0));
                assertTrue(path.cpus()[1].trace().total() > before, p + ": the partition's CPU did work for the I/O");
            }
        }
    }

    @Test
    void aLostInterruptIsReportedAsAStallNamingTheParties() {
        MachineConfig config = MachineConfig.defaults().memory(64L << 20).diskBytes(1L << 20);
        try (IoPath path = Placement.NATIVE.open(config, 1)) {
            path.machine().device().connectInterrupt(() -> false);
            try (Executor executor = new ThreadedExecutor(path, IdleMode.PARK, TimeUnit.MILLISECONDS.toNanos(200))) {
                long buffer = path.app().allocateBuffer(4096);
                path.app().prepare(path.cpu(), 0, Aio.PREAD, 0, buffer, 4096, 0);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> executor.runBatch(1));
                assertTrue(e.getMessage().contains("stalled") && e.getMessage().contains("device on hvbench-native-device"),
                    e.getMessage());
            }
        }
    }

    @Test
    void aFailingPartyIsRethrownWithItsName() {
        MachineConfig config = MachineConfig.defaults().memory(64L << 20).diskBytes(1L << 20);
        try (IoPath path = Placement.NATIVE.open(config, 1)) {
            path.machine().device().connectInterrupt(() -> {
                throw new IllegalStateException("interrupt line broke");
            });
            try (Executor executor = new ThreadedExecutor(path, IdleMode.BACKOFF)) {
                long buffer = path.app().allocateBuffer(4096);
                path.app().prepare(path.cpu(), 0, Aio.PREAD, 0, buffer, 4096, 0);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> executor.runBatch(1));
                assertTrue(e.getMessage().contains("party device failed") && e.getMessage().contains("interrupt line broke"),
                    e.getMessage());
            }
        }
    }

    @Test
    void closingStopsEveryThreadItStarted() {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(1L << 20);
        try (IoPath path = Placement.IO_PARTITION.open(config, 1, GrantMode.PERSISTENT, CpuLayout.CPU_PER_DOMAIN)) {
            ThreadedExecutor executor = new ThreadedExecutor(path, IdleMode.PARK);
            assertTrue(liveThreads("hvbench-io-partition-") >= 2, "device and cpu1 threads run");
            executor.close();
            assertEquals(0, liveThreads("hvbench-io-partition-"), "no thread is left after close");
        }
    }

    @Test
    void badSettingsNameTheSetting() {
        IllegalArgumentException idle = assertThrows(IllegalArgumentException.class, () -> IdleMode.parse("nap"));
        assertTrue(idle.getMessage().startsWith("idle: 'nap'") && idle.getMessage().contains("spin, backoff or park"));
        IllegalArgumentException kind = assertThrows(IllegalArgumentException.class, () -> Executor.Kind.parse("fibers"));
        assertTrue(kind.getMessage().startsWith("executor: 'fibers'") && kind.getMessage().contains("inline or threaded"));
        assertEquals(IdleMode.SPIN, IdleMode.parse(" Spin "));
        assertEquals(Executor.Kind.THREADED, Executor.Kind.parse("threaded"));
    }

    private static long liveThreads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith(prefix) && t.isAlive()).count();
    }
}
