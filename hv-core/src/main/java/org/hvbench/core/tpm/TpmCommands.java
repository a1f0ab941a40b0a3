package org.hvbench.core.tpm;

import java.security.GeneralSecurityException;
import java.security.interfaces.ECPublicKey;
import java.util.Arrays;

/**
 * The guest's side of the TPM: builds TPM 2.0 commands into a buffer (each returns the command's
 * length) and reads the fields of their responses. Commands that name an entity needing authorization
 * carry one password session with the empty password. A response that is not what the command should
 * get throws {@link TpmException} with its response code.
 */
public final class TpmCommands {
    /** PCR 16 and 23, the only ones any locality may reset (the PC Client profile). */
    public static final int DEBUG_PCR = 16;

    private TpmCommands() {
    }

    private static TpmBuffer begin(byte[] buf, int tag, int cc) throws TpmException {
        TpmBuffer b = new TpmBuffer(buf, 0, buf.length);
        b.put16(tag).put32(0).put32(cc);
        return b;
    }

    private static int end(TpmBuffer b) {
        TpmBuffer.putInt(b.array(), 2, b.position());
        return b.position();
    }

    private static void passwordSession(TpmBuffer b) throws TpmException {
        b.put32(9).put32(Tpm2.RS_PW).put16(0).put8(Tpm2.SESSION_CONTINUE).put16(0);
    }

    private static int build(Builder body) {
        try {
            return body.build();
        } catch (TpmException e) {
            throw new IllegalArgumentException("tpm command: does not fit its buffer", e);
        }
    }

    private interface Builder {
        int build() throws TpmException;
    }

    public static int startup(byte[] buf) {
        return build(() -> end(begin(buf, Tpm2.ST_NO_SESSIONS, Tpm2.CC_STARTUP).put16(Tpm2.SU_CLEAR)));
    }

    /** {@code TPM2_PCR_Extend} of PCR {@code pcr} with the SHA-256 {@code digest}. */
    public static int pcrExtend(byte[] buf, int pcr, byte[] digest) {
        if (digest.length != Pcrs.DIGEST_BYTES) {
            throw new IllegalArgumentException("pcr extend: a SHA-256 digest is 32 bytes, not " + digest.length);
        }
        return build(() -> {
            TpmBuffer b = begin(buf, Tpm2.ST_SESSIONS, Tpm2.CC_PCR_EXTEND).put32(pcr);
            passwordSession(b);
            return end(b.put32(1).put16(Tpm2.ALG_SHA256).put(digest));
        });
    }

    public static int pcrReset(byte[] buf, int pcr) {
        return build(() -> {
            TpmBuffer b = begin(buf, Tpm2.ST_SESSIONS, Tpm2.CC_PCR_RESET).put32(pcr);
            passwordSession(b);
            return end(b);
        });
    }

    /** {@code TPM2_PCR_Read} of the SHA-256 PCRs whose bits {@code pcrMask} sets (bit i = PCR i). */
    public static int pcrRead(byte[] buf, int pcrMask) {
        return build(() -> {
            TpmBuffer b = begin(buf, Tpm2.ST_NO_SESSIONS, Tpm2.CC_PCR_READ);
            b.putSha256Selection(pcrMask);
            return end(b);
        });
    }

    public static int getRandom(byte[] buf, int bytes) {
        return build(() -> end(begin(buf, Tpm2.ST_NO_SESSIONS, Tpm2.CC_GET_RANDOM).put16(bytes)));
    }

    /**
     * {@code TPM2_CreatePrimary} in {@code hierarchy} of an ECC P-256 key that signs with ECDSA and
     * SHA-256; {@code restricted} makes it an attestation key (it signs only what the TPM generated).
     */
    public static int createPrimary(byte[] buf, int hierarchy, boolean restricted) {
        int attributes = Tpm2.OA_FIXED_TPM | Tpm2.OA_FIXED_PARENT | Tpm2.OA_SENSITIVE_DATA_ORIGIN | Tpm2.OA_USER_WITH_AUTH
            | Tpm2.OA_SIGN | (restricted ? Tpm2.OA_RESTRICTED : 0);
        return build(() -> {
            TpmBuffer b = begin(buf, Tpm2.ST_SESSIONS, Tpm2.CC_CREATE_PRIMARY).put32(hierarchy);
            passwordSession(b);
            b.put16(4).put16(0).put16(0);
            // TPMT_PUBLIC: ECC, SHA-256 names, no policy, no symmetric, ECDSA-SHA256, P-256, no KDF, empty point.
            int sizeAt = b.position();
            b.put16(0);
            b.put16(Tpm2.ALG_ECC).put16(Tpm2.ALG_SHA256).put32(attributes).put16(0).put16(Tpm2.ALG_NULL)
                .put16(Tpm2.ALG_ECDSA).put16(Tpm2.ALG_SHA256).put16(Tpm2.ECC_NIST_P256).put16(Tpm2.ALG_NULL).put16(0).put16(0);
            TpmBuffer.putShort(buf, sizeAt, b.position() - sizeAt - 2);
            return end(b.put16(0).put32(0));
        });
    }

    /** {@code TPM2_Quote} by key {@code handle} over the PCRs of {@code pcrMask}, with the verifier's {@code nonce}. */
    public static int quote(byte[] buf, int handle, byte[] nonce, int pcrMask) {
        return build(() -> {
            TpmBuffer b = begin(buf, Tpm2.ST_SESSIONS, Tpm2.CC_QUOTE).put32(handle);
            passwordSession(b);
            b.put2b(nonce).put16(Tpm2.ALG_ECDSA).put16(Tpm2.ALG_SHA256);
            b.putSha256Selection(pcrMask);
            return end(b);
        });
    }

    public static int flushContext(byte[] buf, int handle) {
        return build(() -> end(begin(buf, Tpm2.ST_NO_SESSIONS, Tpm2.CC_FLUSH_CONTEXT).put32(handle)));
    }

    /** The response code of a response. */
    public static int rc(byte[] response) {
        return TpmBuffer.getInt(response, 6);
    }

    private static TpmBuffer success(byte[] response, int length) throws TpmException {
        TpmBuffer b = new TpmBuffer(response, 0, length);
        b.u16();
        if (b.u32() != length) {
            throw new TpmException(Tpm2.RC_SIZE);
        }
        int rc = b.u32();
        if (rc != Tpm2.RC_SUCCESS) {
            throw new TpmException(rc);
        }
        return b;
    }

    /** The handle of the object a {@code TPM2_CreatePrimary} made. */
    public static int createdHandle(byte[] response, int length) throws TpmException {
        return success(response, length).u32();
    }

    /** The handle field of a successful {@code TPM2_CreatePrimary} response, unchecked. */
    public static int createdHandleUnchecked(byte[] response) {
        return TpmBuffer.getInt(response, 10);
    }

    /** The public key in a {@code TPM2_CreatePrimary} response's {@code outPublic}. */
    public static ECPublicKey createdKey(byte[] response, int length) throws TpmException, GeneralSecurityException {
        TpmBuffer b = success(response, length);
        b.u32();
        b.u32();
        b.u16();
        b.u16();
        b.u16();
        b.u32();
        b.tpm2b(32);
        b.u16();
        if (b.u16() == Tpm2.ALG_ECDSA) {
            b.u16();
        }
        b.u16();
        b.u16();
        int x = b.tpm2b(32);
        byte[] xs = Arrays.copyOfRange(response, b.position() - x, b.position());
        int y = b.tpm2b(32);
        byte[] ys = Arrays.copyOfRange(response, b.position() - y, b.position());
        return Ecc.publicKey(xs, ys);
    }

    /** The values of a {@code TPM2_PCR_Read} response, in PCR order (at most eight). */
    public static byte[][] pcrValues(byte[] response, int length) throws TpmException {
        TpmBuffer b = success(response, length);
        b.u32();
        if (b.u32() == 1) {
            b.u16();
            b.skip(b.u8());
        }
        int n = b.u32();
        byte[][] v = new byte[n][];
        for (int i = 0; i < n; i++) {
            int size = b.tpm2b(Pcrs.DIGEST_BYTES);
            v[i] = Arrays.copyOfRange(response, b.position() - size, b.position());
        }
        return v;
    }

    /** The bytes a {@code TPM2_GetRandom} returned. */
    public static byte[] randomBytes(byte[] response, int length) throws TpmException {
        TpmBuffer b = success(response, length);
        int n = b.tpm2b(Pcrs.DIGEST_BYTES);
        return Arrays.copyOfRange(response, b.position() - n, b.position());
    }

    /** A {@code TPM2_Quote} response's {@code TPMS_ATTEST} and {@code TPMT_SIGNATURE}. */
    public static Quote quoteOf(byte[] response, int length) throws TpmException {
        TpmBuffer b = success(response, length);
        b.u32();
        int attest = b.tpm2b(Vtpm.MAX_BUFFER);
        int attestAt = b.position() - attest;
        int signatureAt = b.position();
        b.u16();
        b.u16();
        b.tpm2b(Ecc.COORDINATE_BYTES);
        b.tpm2b(Ecc.COORDINATE_BYTES);
        return new Quote(Arrays.copyOfRange(response, attestAt, attestAt + attest), Arrays.copyOfRange(response, signatureAt, b.position()));
    }
}
