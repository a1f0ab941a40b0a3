package org.hvbench.core.arch;

import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.mem.MachineMemory;

/** Test helper: one placement, its app, an inline executor, and single I/Os run to completion. */
final class IoDriver {
    final IoPath path;
    final InlineExecutor executor;

    IoDriver(IoPath path) {
        this.path = path;
        this.executor = new InlineExecutor(path);
    }

    /** A buffer of {@code bytes} starting {@code offsetInPage} bytes into a fresh page. */
    long buffer(int bytes, int offsetInPage) {
        return path.app().allocateBuffer(bytes + offsetInPage + MachineMemory.PAGE_SIZE) + offsetInPage;
    }

    /** Runs one I/O to completion; returns its result (bytes or a negative errno). */
    long io(int opcode, long diskOffset, long buffer, int length) {
        path.app().prepare(path.cpu(), 0, opcode, diskOffset, buffer, length, 1);
        long target = path.app().completed() + 1;
        long submitted = path.app().submit(path.cpu(), 0, 1);
        if (submitted < 0) {
            return submitted;
        }
        executor.awaitCompletions(target);
        return path.app().result(1);
    }

    long write(long diskOffset, long buffer, byte[] data) {
        path.app().memory().hostWrite(buffer, data, 0, data.length);
        return io(Aio.PWRITE, diskOffset, buffer, data.length);
    }

    byte[] read(long diskOffset, long buffer, int length) {
        long r = io(Aio.PREAD, diskOffset, buffer, length);
        if (r != length) {
            throw new AssertionError("read of " + length + " bytes at disk offset " + diskOffset + " returned " + r);
        }
        return path.app().memory().hostRead(buffer, length);
    }
}
