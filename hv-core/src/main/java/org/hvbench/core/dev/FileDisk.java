package org.hvbench.core.dev;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.hvbench.core.mem.MachineMemory;

/**
 * A disk in a real file. Reads and writes go straight between the file and machine memory through a
 * view of the memory region ({@link FileChannel} positional I/O), and FLUSH forces the file to its
 * storage device. An I/O error becomes {@code -EIO} on the request, never an exception on the data path.
 */
public final class FileDisk implements BlockBacking {
    private final Path path;
    private final FileChannel channel;
    private final long bytes;
    private ByteBuffer view;
    private MachineMemory viewOf;

    /**
     * Opens {@code path}, creating it if needed and sizing it to {@code bytes}; existing contents are kept.
     *
     * @throws IllegalArgumentException naming {@code diskBytes} or {@code diskFile}
     */
    public FileDisk(Path path, long bytes) {
        DiskSize.check(bytes);
        this.path = path;
        this.bytes = bytes;
        try {
            this.channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (channel.size() < bytes) {
                // Extend by writing the last byte, so the file is really that long.
                channel.write(ByteBuffer.wrap(new byte[1]), bytes - 1);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("diskFile: cannot open " + path + " for reading and writing: " + e.getMessage(), e);
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    private ByteBuffer view(MachineMemory memory, long ma, int length) {
        if (viewOf != memory) {
            view = memory.newByteBufferView();
            viewOf = memory;
        }
        if (!memory.contains(ma, length)) {
            throw new IndexOutOfBoundsException("machine address 0x" + Long.toHexString(ma) + " length " + length);
        }
        view.limit((int) ma + length).position((int) ma);
        return view;
    }

    @Override
    public int read(long offset, MachineMemory memory, long ma, int length) {
        if (!inside(offset, length)) {
            return -org.hvbench.core.Errno.EIO;
        }
        ByteBuffer b = view(memory, ma, length);
        try {
            long pos = offset;
            while (b.hasRemaining()) {
                int n = channel.read(b, pos);
                if (n < 0) {
                    // Past the end of a sparse file: the rest reads as zeros.
                    while (b.hasRemaining()) {
                        b.put((byte) 0);
                    }
                    break;
                }
                pos += n;
            }
            return 0;
        } catch (IOException e) {
            return -org.hvbench.core.Errno.EIO;
        }
    }

    @Override
    public int write(long offset, MachineMemory memory, long ma, int length) {
        if (!inside(offset, length)) {
            return -org.hvbench.core.Errno.EIO;
        }
        ByteBuffer b = view(memory, ma, length);
        try {
            long pos = offset;
            while (b.hasRemaining()) {
                pos += channel.write(b, pos);
            }
            return 0;
        } catch (IOException e) {
            return -org.hvbench.core.Errno.EIO;
        }
    }

    @Override
    public int flush() {
        try {
            channel.force(false);
            return 0;
        } catch (IOException e) {
            return -org.hvbench.core.Errno.EIO;
        }
    }

    @Override
    public void peek(long offset, byte[] dst, int dstIndex, int length) {
        try {
            ByteBuffer b = ByteBuffer.wrap(dst, dstIndex, length);
            long pos = offset;
            while (b.hasRemaining()) {
                int n = channel.read(b, pos);
                if (n < 0) {
                    break;
                }
                pos += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private boolean inside(long offset, int length) {
        return offset >= 0 && length >= 0 && offset <= bytes - length;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            throw new UncheckedIOException("closing disk file " + path, e);
        }
    }
}
