package org.hvbench.core.arch;

import java.io.ByteArrayOutputStream;

/**
 * A fuzz input read front to back as little-endian fields, so that a seed can be written as what it
 * means ({@link Seed}, {@link FuzzSeeds}) and the fuzzer's byte mutations map onto fields. Past the
 * end every read gives 0.
 */
final class FuzzInput {
    private final byte[] data;
    private int pos;

    FuzzInput(byte[] data) {
        this.data = data;
    }

    boolean more() {
        return pos < data.length;
    }

    int u8() {
        return pos < data.length ? data[pos++] & 0xFF : 0;
    }

    int u16() {
        return u8() | u8() << 8;
    }

    int i32() {
        return u16() | u16() << 16;
    }

    long i64() {
        return i32() & 0xFFFF_FFFFL | (long) i32() << 32;
    }

    /** 0 to {@code n - 1} from one byte. */
    int below(int n) {
        return u8() % n;
    }

    /** One of {@code values}, chosen by one byte. */
    long pick(long... values) {
        return values[u8() % values.length];
    }

    /** Up to {@code max} bytes: a 16-bit length (modulo {@code max + 1}), then the bytes. */
    byte[] bytes(int max) {
        int n = Math.min(u16() % (max + 1), data.length - pos);
        byte[] out = new byte[n];
        System.arraycopy(data, pos, out, 0, out.length);
        pos += out.length;
        return out;
    }

    /** Writes a seed field by field, in the order {@link FuzzInput} reads them. */
    static final class Seed {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Seed u8(int v) {
            out.write(v);
            return this;
        }

        Seed u16(int v) {
            return u8(v).u8(v >>> 8);
        }

        Seed i32(int v) {
            return u16(v).u16(v >>> 16);
        }

        Seed i64(long v) {
            return i32((int) v).i32((int) (v >>> 32));
        }

        /** Bytes for {@link FuzzInput#bytes}: their length, then them. */
        Seed bytes(byte[] b) {
            u16(b.length);
            out.write(b, 0, b.length);
            return this;
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }
}
