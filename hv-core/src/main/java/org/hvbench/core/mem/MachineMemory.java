package org.hvbench.core.mem;

import java.nio.ByteBuffer;

import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The machine's physical memory: one 4 KiB-aligned off-heap region of 4 KiB frames, addressed by
 * machine address ({@code ma}) or machine frame number ({@code mfn = ma >>> 12}).
 *
 * <p>Accessors name their memory order, as Agrona's do: plain {@code get/put}, {@code getIntAcquire}
 * pairs with {@code putIntRelease}, {@code compareAndSet} is a full fence. Every accessor checks the
 * whole access against the region, as a long, so that no address can wrap into a valid index; an
 * out-of-range machine address is a bug in the host program (translation never produces one), so
 * it throws rather than returning an errno.
 */
public final class MachineMemory implements AutoCloseable {
    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    public static final long PAGE_MASK = PAGE_SIZE - 1;

    public static final long MIN_BYTES = 1L << 20;
    public static final long MAX_BYTES = 1L << 30;
    public static final long DEFAULT_BYTES = 256L << 20;

    private final ByteBuffer allocation;
    private final ByteBuffer region;
    private final UnsafeBuffer buffer;
    private final long bytes;

    /**
     * @param bytes size of machine memory, a multiple of 4 KiB from 1 MiB to 1 GiB
     * @throws IllegalArgumentException naming the setting {@code memory} and the allowed values
     */
    public MachineMemory(long bytes) {
        checkSize(bytes);
        this.bytes = bytes;
        // Over-allocate and align by offset: an aligned slice could not be freed explicitly.
        this.allocation = ByteBuffer.allocateDirect((int) bytes + PAGE_SIZE);
        long address = BufferUtil.address(allocation);
        int offset = (int) (((address + PAGE_MASK) & ~PAGE_MASK) - address);
        this.region = allocation.duplicate().position(offset).limit(offset + (int) bytes).slice();
        this.buffer = new UnsafeBuffer(region);
    }

    /** @throws IllegalArgumentException naming the setting {@code memory} and the allowed sizes */
    public static void checkSize(long bytes) {
        if (bytes < MIN_BYTES || bytes > MAX_BYTES || (bytes & PAGE_MASK) != 0) {
            throw new IllegalArgumentException("memory: " + bytes + " bytes is not allowed; memory must be a"
                + " multiple of 4096 (one 4 KiB frame) from " + MIN_BYTES + " (1 MiB) to " + MAX_BYTES + " (1 GiB)");
        }
    }

    public long bytes() {
        return bytes;
    }

    public int frames() {
        return (int) (bytes >>> PAGE_SHIFT);
    }

    /** True when {@code [ma, ma + length)} lies inside machine memory. */
    public boolean contains(long ma, long length) {
        return ma >= 0 && length >= 0 && ma <= bytes - length;
    }

    private int index(long ma, int length) {
        if (ma < 0 || length < 0 || ma > bytes - length) {
            throw new IndexOutOfBoundsException("machine address 0x" + Long.toHexString(ma) + " length " + length
                + " outside machine memory of " + bytes + " bytes");
        }
        return (int) ma;
    }

    public byte getByte(long ma) {
        return buffer.getByte(index(ma, 1));
    }

    public void putByte(long ma, byte value) {
        buffer.putByte(index(ma, 1), value);
    }

    public short getShort(long ma) {
        return buffer.getShort(index(ma, 2));
    }

    public void putShort(long ma, short value) {
        buffer.putShort(index(ma, 2), value);
    }

    public int getInt(long ma) {
        return buffer.getInt(index(ma, 4));
    }

    public void putInt(long ma, int value) {
        buffer.putInt(index(ma, 4), value);
    }

    public long getLong(long ma) {
        return buffer.getLong(index(ma, 8));
    }

    public void putLong(long ma, long value) {
        buffer.putLong(index(ma, 8), value);
    }

    /** Load with acquire order: later loads and stores are not reordered before it. */
    public int getIntAcquire(long ma) {
        return buffer.getIntAcquire(index(ma, 4));
    }

    /** Store with release order: earlier loads and stores are not reordered after it. */
    public void putIntRelease(long ma, int value) {
        buffer.putIntRelease(index(ma, 4), value);
    }

    public int getIntVolatile(long ma) {
        return buffer.getIntVolatile(index(ma, 4));
    }

    public void putIntVolatile(long ma, int value) {
        buffer.putIntVolatile(index(ma, 4), value);
    }

    public long getLongAcquire(long ma) {
        return buffer.getLongAcquire(index(ma, 8));
    }

    public void putLongRelease(long ma, long value) {
        buffer.putLongRelease(index(ma, 8), value);
    }

    public long getLongVolatile(long ma) {
        return buffer.getLongVolatile(index(ma, 8));
    }

    /** Compare-and-set with volatile (full fence) semantics. */
    public boolean compareAndSetInt(long ma, int expected, int update) {
        return buffer.compareAndSetInt(index(ma, 4), expected, update);
    }

    public boolean compareAndSetLong(long ma, long expected, long update) {
        return buffer.compareAndSetLong(index(ma, 8), expected, update);
    }

    public int getAndAddInt(long ma, int delta) {
        return buffer.getAndAddInt(index(ma, 4), delta);
    }

    /** Copies within machine memory; the ranges may overlap. */
    public void copy(long srcMa, long dstMa, int length) {
        int src = index(srcMa, length);
        int dst = index(dstMa, length);
        buffer.putBytes(dst, buffer, src, length);
    }

    /** Copies {@code length} bytes from machine memory into {@code dst}. */
    public void getBytes(long ma, MutableDirectBuffer dst, int dstIndex, int length) {
        buffer.getBytes(index(ma, length), dst, dstIndex, length);
    }

    /** Copies {@code length} bytes from {@code src} into machine memory. */
    public void putBytes(long ma, DirectBuffer src, int srcIndex, int length) {
        buffer.putBytes(index(ma, length), src, srcIndex, length);
    }

    public void getBytes(long ma, byte[] dst, int dstIndex, int length) {
        buffer.getBytes(index(ma, length), dst, dstIndex, length);
    }

    public void putBytes(long ma, byte[] src, int srcIndex, int length) {
        buffer.putBytes(index(ma, length), src, srcIndex, length);
    }

    public void setMemory(long ma, int length, byte value) {
        buffer.setMemory(index(ma, length), length, value);
    }

    /** Zeroes one frame, as a hypervisor scrubs a frame before it changes hands. */
    public void zeroFrame(long mfn) {
        setMemory(mfn << PAGE_SHIFT, PAGE_SIZE, (byte) 0);
    }

    /** A 64-bit FNV-1a checksum of one frame, for isolation checks in tests and fuzzers. */
    public long frameChecksum(long mfn) {
        int base = index(mfn << PAGE_SHIFT, PAGE_SIZE);
        long hash = 0xcbf29ce484222325L;
        for (int i = 0; i < PAGE_SIZE; i += 8) {
            hash ^= buffer.getLong(base + i);
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    /**
     * A fresh {@link ByteBuffer} over the whole region, for channel I/O (file-backed disks). Each
     * caller keeps its own view, because position and limit are per view.
     */
    public ByteBuffer newByteBufferView() {
        return region.duplicate().clear();
    }

    /** The region as an Agrona buffer whose index is the machine address; for code that copies in bulk. */
    public AtomicBuffer buffer() {
        return buffer;
    }

    /**
     * Frees the region. The view is first pointed at an empty array, so that a late access fails
     * with a bounds error instead of touching freed memory. Call it after every party has stopped.
     */
    @Override
    public void close() {
        if (buffer.capacity() != 0) {
            buffer.wrap(new byte[0]);
            BufferUtil.free(allocation);
        }
    }
}
