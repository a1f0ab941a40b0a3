package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.exec.ThreadedExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.GrantMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The split placements with FIFO event channels instead of the two-level bitmaps: the same
 * crossings per I/O as the paper's (the layout changes how a kernel finds its events, not how many
 * times control passes), the same data, inline and threaded.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FifoEventsPlacementTest {
    private static MachineConfig fifo() {
        return MachineConfig.defaults().memory(96L << 20).diskBytes(4L << 20).events("fifo");
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"IO_PARTITION", "DOM0_EMULATOR"})
    void oneIoMakesThePapersCrossingsWithFifoEvents(Placement placement) {
        try (IoPath path = placement.open(fifo(), 1)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(4096, 0);
            // Steady state: the first I/O may also take what set-up left queued.
            assertEquals(4096, io.io(Aio.PREAD, 0, buffer, 4096));
            long before = path.trace().total();
            assertEquals(4096, io.io(Aio.PREAD, 0, buffer, 4096));
            assertEquals(placement.paperCrossings(), path.trace().total() - before);
            assertEquals(0, path.app().errors());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"IO_PARTITION", "DOM0_EMULATOR"})
    void dataReadsBackInlineAndThreaded(Placement placement) {
        byte[] data = new byte[3 * 4096 + 512];
        new Random(5).nextBytes(data);
        try (IoPath path = placement.open(fifo(), 1)) {
            IoDriver io = new IoDriver(path);
            assertEquals(data.length, io.write(8192, io.buffer(data.length, 512), data));
            assertArrayEquals(data, io.read(8192, io.buffer(data.length, 0), data.length));
        }
        try (IoPath path = placement.open(fifo(), 8, GrantMode.PERSISTENT, CpuLayout.CPU_PER_DOMAIN);
             ThreadedExecutor executor = new ThreadedExecutor(path, IdleMode.BACKOFF)) {
            long write = path.app().allocateBuffer(data.length);
            long read = path.app().allocateBuffer(data.length);
            path.app().memory().hostWrite(write, data, 0, data.length);
            path.app().prepare(path.cpu(), 0, Aio.PWRITE, 8192, write, data.length, 0);
            executor.runBatch(1);
            path.app().prepare(path.cpu(), 0, Aio.PREAD, 8192, read, data.length, 0);
            executor.runBatch(1);
            assertEquals(data.length, path.app().result(0));
            assertArrayEquals(data, path.app().memory().hostRead(read, data.length));
            assertTrue(path.cpus().length == 2);
        }
    }

    @Test
    void anUnknownLayoutNamesTheSetting() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MachineConfig.defaults().events("3-level"));
        assertTrue(e.getMessage().startsWith("events: '3-level'") && e.getMessage().contains("two-level or fifo"), e.getMessage());
    }
}
