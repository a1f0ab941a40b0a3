package org.hvbench.core.tpm;

/**
 * A cursor over a byte array that reads and writes TPM 2.0's marshalled types (big-endian integers,
 * {@code TPM2B_*}: a 16-bit size and that many bytes). Reading past the end throws
 * {@link TpmException} with {@code TPM_RC_INSUFFICIENT} for the parameter being read; writing past the
 * end throws it with {@code TPM_RC_SIZE} (a response that would not fit its buffer). One buffer is
 * reused for every command, so a well-formed command allocates nothing here.
 */
public final class TpmBuffer {
    private byte[] bytes;
    private int position;
    private int limit;
    /** The number of the handle, parameter or session being read, for the code an error carries. */
    private int errorBase = Tpm2.RC_P | Tpm2.RC_1;

    public TpmBuffer() {
    }

    public TpmBuffer(byte[] bytes, int offset, int length) {
        reset(bytes, offset, length);
    }

    /** Reads or writes {@code length} bytes of {@code bytes} from {@code offset}. */
    public TpmBuffer reset(byte[] bytes, int offset, int length) {
        if (offset < 0 || length < 0 || offset > bytes.length - length) {
            throw new IllegalArgumentException("tpm buffer: " + offset + "+" + length + " outside " + bytes.length + " bytes");
        }
        this.bytes = bytes;
        this.position = offset;
        this.limit = offset + length;
        return this;
    }

    /** Errors raised from now on name parameter {@code n}. */
    TpmBuffer parameter(int n) {
        errorBase = Tpm2.RC_P | n * Tpm2.RC_1;
        return this;
    }

    /** Errors raised from now on name handle {@code n}. */
    TpmBuffer handle(int n) {
        errorBase = n * Tpm2.RC_1;
        return this;
    }

    /** Errors raised from now on name session {@code n}. */
    TpmBuffer session(int n) {
        errorBase = Tpm2.RC_S | n * Tpm2.RC_1;
        return this;
    }

    /** The code {@code rc} about what is being read now. */
    int error(int rc) {
        return rc | errorBase;
    }

    public byte[] array() {
        return bytes;
    }

    public int position() {
        return position;
    }

    public void position(int p) {
        position = p;
    }

    public int limit() {
        return limit;
    }

    public int remaining() {
        return limit - position;
    }

    private void need(int n) throws TpmException {
        if (n > limit - position) {
            throw new TpmException(Tpm2.RC_INSUFFICIENT | errorBase);
        }
    }

    private void room(int n) throws TpmException {
        if (n > limit - position) {
            throw new TpmException(Tpm2.RC_SIZE);
        }
    }

    public int u8() throws TpmException {
        need(1);
        return bytes[position++] & 0xFF;
    }

    public int u16() throws TpmException {
        need(2);
        int v = (bytes[position] & 0xFF) << 8 | bytes[position + 1] & 0xFF;
        position += 2;
        return v;
    }

    public int u32() throws TpmException {
        need(4);
        int v = getInt(bytes, position);
        position += 4;
        return v;
    }

    public long u64() throws TpmException {
        need(8);
        long v = (long) getInt(bytes, position) << 32 | getInt(bytes, position + 4) & 0xFFFF_FFFFL;
        position += 8;
        return v;
    }

    /**
     * Reads a {@code TPM2B}'s size and steps over its bytes; returns the size. The bytes start at
     * {@code position() - size}. A size above {@code max} is {@code TPM_RC_SIZE}.
     */
    public int tpm2b(int max) throws TpmException {
        int size = u16();
        if (size > max) {
            throw new TpmException(Tpm2.RC_SIZE | errorBase);
        }
        need(size);
        position += size;
        return size;
    }

    /** Steps over {@code n} bytes. */
    public void skip(int n) throws TpmException {
        need(n);
        position += n;
    }

    public TpmBuffer put8(int v) throws TpmException {
        room(1);
        bytes[position++] = (byte) v;
        return this;
    }

    public TpmBuffer put16(int v) throws TpmException {
        room(2);
        bytes[position] = (byte) (v >>> 8);
        bytes[position + 1] = (byte) v;
        position += 2;
        return this;
    }

    public TpmBuffer put32(int v) throws TpmException {
        room(4);
        putInt(bytes, position, v);
        position += 4;
        return this;
    }

    public TpmBuffer put64(long v) throws TpmException {
        room(8);
        putInt(bytes, position, (int) (v >>> 32));
        putInt(bytes, position + 4, (int) v);
        position += 8;
        return this;
    }

    public TpmBuffer put(byte[] src, int offset, int length) throws TpmException {
        room(length);
        System.arraycopy(src, offset, bytes, position, length);
        position += length;
        return this;
    }

    public TpmBuffer put(byte[] src) throws TpmException {
        return put(src, 0, src.length);
    }

    /** Steps over {@code n} bytes written in place by the caller. */
    public void skipWritten(int n) throws TpmException {
        room(n);
        position += n;
    }

    /** A {@code TPM2B}: the size, then the bytes. */
    public TpmBuffer put2b(byte[] src, int offset, int length) throws TpmException {
        return put16(length).put(src, offset, length);
    }

    public TpmBuffer put2b(byte[] src) throws TpmException {
        return put2b(src, 0, src.length);
    }

    /**
     * A {@code TPML_PCR_SELECTION} of one SHA-256 bank of 24 PCRs: count 1, the algorithm,
     * {@code sizeofSelect} 3, and the bit mask {@code pcrMask} (bit i = PCR i), low byte first.
     */
    public TpmBuffer putSha256Selection(int pcrMask) throws TpmException {
        return put32(1).put16(Tpm2.ALG_SHA256).put8(3).put8(pcrMask).put8(pcrMask >>> 8).put8(pcrMask >>> 16);
    }

    static int getInt(byte[] b, int at) {
        return (b[at] & 0xFF) << 24 | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | b[at + 3] & 0xFF;
    }

    static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    static void putShort(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }
}
