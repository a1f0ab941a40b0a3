package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.hvbench.core.Errno;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.Aio;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Bad I/O requests from an application, through every placement: the kernel refuses what it can see
 * is wrong, the device (or the hypervisor on its behalf) refuses a range beyond the disk; the disk is
 * unchanged and the next good I/O works.
 */
class SubmitValidationTest {
    private static final long DISK = 4L << 20;

    @ParameterizedTest
    @EnumSource(Placement.class)
    void badRequestsGetTheirErrno(Placement placement) {
        try (IoPath path = placement.open(MachineConfig.defaults().memory(64L << 20).diskBytes(DISK), 4)) {
            IoDriver io = new IoDriver(path);
            long buffer = io.buffer(8192, 0);
            byte[] junk = new byte[8192];
            new Random(5).nextBytes(junk);
            path.app().memory().hostWrite(buffer, junk, 0, junk.length);
            long disk = MachineSnapshot.diskChecksum(path.machine());

            assertEquals(-Errno.EFAULT, io.io(Aio.PWRITE, 0, 1L << 36, 4096), "buffer not mapped");
            assertEquals(-Errno.EINVAL, io.io(Aio.PWRITE, 0, buffer + 100, 4096), "buffer not sector-aligned");
            assertEquals(-Errno.EINVAL, io.io(Aio.PWRITE, 100, buffer, 4096), "disk offset not sector-aligned");
            assertEquals(-Errno.EINVAL, io.io(Aio.PWRITE, 0, buffer, 1000), "length not whole sectors");
            assertEquals(-Errno.EINVAL, io.io(Aio.PWRITE, 0, buffer, 0), "empty write");
            assertEquals(-Errno.EINVAL, io.io(Aio.PWRITE, 0, buffer, Aio.MAX_IO_BYTES + 512), "larger than the largest I/O");
            assertEquals(-Errno.EINVAL, io.io(7, 0, buffer, 4096), "unknown opcode");
            assertEquals(-Errno.EINVAL, io.io(Aio.PWRITE, -512, buffer, 4096), "negative disk offset");
            assertEquals(-Errno.ENOSPC, io.io(Aio.PWRITE, DISK - 4096, buffer, 8192), "beyond the end of the disk");
            assertEquals(-Errno.ENOSPC, io.io(Aio.PREAD, DISK, buffer, 512), "read past the end");
            assertEquals(disk, MachineSnapshot.diskChecksum(path.machine()), "no refused write reached the disk");
            assertEquals(-Errno.EINVAL, path.app().submit(path.cpu(), 0, 0), "submit of nothing");
            assertEquals(-Errno.EINVAL, path.app().submit(path.cpu(), 0, 5), "more than the kernel's depth");

            byte[] data = new byte[8192];
            new Random(6).nextBytes(data);
            assertEquals(8192, io.write(DISK - 8192, buffer, data), "the last 8 KiB of the disk are writable");
            assertArrayEquals(data, io.read(DISK - 8192, io.buffer(8192, 512), 8192));
            assertEquals(0, path.app().kernel().badCompletions());
        }
    }
}
