package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;

import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.GrantMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random data written through each placement reads back byte for byte, and lands on the disk at the
 * right place: sizes from one sector to the largest I/O, buffers aligned, offset by a sector, and
 * crossing pages; a RAM disk and a real file.
 */
class DataIntegrityTest {
    @TempDir
    Path dir;

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (Placement p : Placement.values()) {
            GrantMode[] modes = splitDriver(p) ? GrantMode.values() : new GrantMode[] {GrantMode.PERSISTENT};
            for (GrantMode mode : modes) {
                for (boolean file : new boolean[] {false, true}) {
                    cases.add(Arguments.of(p, mode, file));
                }
            }
        }
        return cases.build();
    }

    /** Placements where a back end or emulator reaches the guest's pages, so the grant mode matters. */
    static boolean splitDriver(Placement p) {
        return p == Placement.IO_PARTITION || p.id().equals("dom0-emulator");
    }

    @ParameterizedTest(name = "{0} {1} file={2}")
    @MethodSource("cases")
    void writtenBytesReadBackExactly(Placement placement, GrantMode mode, boolean fileDisk) {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(8L << 20);
        if (fileDisk) {
            config.diskFile(dir.resolve("disk-" + placement.id() + "-" + mode + ".img"));
        }
        Random random = new Random(placement.ordinal() * 31L + (fileDisk ? 1 : 0));
        int[] sizes = {512, 4096, 4096 + 512, 3 * 4096, 45056, 64 << 10, Aio.MAX_IO_BYTES};
        int[] offsetsInPage = {0, 512, 3584};
        try (IoPath path = placement.open(config, 4, mode)) {
            IoDriver io = new IoDriver(path);
            long diskOffset = 4096;
            for (int size : sizes) {
                for (int inPage : offsetsInPage) {
                    byte[] data = new byte[size];
                    random.nextBytes(data);
                    long writeBuffer = io.buffer(size, inPage);
                    long readBuffer = io.buffer(size, (inPage + 1024) % 4096);
                    assertEquals(size, io.write(diskOffset, writeBuffer, data), "write of " + size + " at +" + inPage);
                    assertArrayEquals(data, io.read(diskOffset, readBuffer, size), "read back " + size + " at +" + inPage);
                    byte[] onDisk = new byte[size];
                    path.machine().backing().peek(diskOffset, onDisk, 0, size);
                    assertArrayEquals(data, onDisk, "disk holds what was written");
                    diskOffset += size + 512;
                }
            }
            assertEquals(0, path.app().errors());
            assertEquals(0, path.app().kernel().badCompletions());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("placements")
    void flushCompletesAndAFileDiskKeepsTheDataAfterReopening(Placement placement) {
        Path file = dir.resolve("persist-" + placement.id() + ".img");
        byte[] data = new byte[8192];
        new Random(7).nextBytes(data);
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(4L << 20).diskFile(file);
        try (IoPath path = placement.open(config, 1)) {
            IoDriver io = new IoDriver(path);
            assertEquals(8192, io.write(1 << 20, io.buffer(8192, 0), data));
            assertEquals(0, io.io(Aio.FSYNC, 0, 0, 0), "FSYNC succeeds");
        }
        try (IoPath path = placement.open(config, 1)) {
            IoDriver io = new IoDriver(path);
            assertArrayEquals(data, io.read(1 << 20, io.buffer(8192, 0), 8192));
        }
    }

    static Stream<Placement> placements() {
        return Stream.of(Placement.values());
    }
}
