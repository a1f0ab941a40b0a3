package org.hvbench.core.tpm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.ECPublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;

/**
 * A quote written as the files {@code tpm2_checkquote} (tpm2-tools) reads, so a verifier nobody here
 * wrote can judge it:
 *
 * <pre>
 * key.pem      the attestation key, an X.509 SubjectPublicKeyInfo in PEM       (-u)
 * quote.msg    the TPMS_ATTEST, as tpm2_quote -m writes it                       (-m)
 * quote.sig    the TPMT_SIGNATURE, tpm2-tools' "tss" signature format            (-s)
 * quote.pcrs   the selection and the PCR values, as tpm2_quote -o writes them   (-f)
 * nonce.hex    the verifier's qualifying data in hex                            (-q)
 * pcr-list     the selection in tpm2-tools' syntax, e.g. sha256:0,1,17
 * </pre>
 *
 * The PCR file is tpm2-tools' "serialized" form, the one tpm2-tools 5.4's {@code tpm2_checkquote} reads
 * (its {@code -F} is ignored there): the C structures {@code TPML_PCR_SELECTION} (132 bytes) and a
 * 32-bit count of {@code TPML_DIGEST}s (532 bytes each, up to eight {@code TPM2B_DIGEST}s of 66 bytes),
 * laid out as on x86-64 and little-endian. Not the selection string {@code -l}: with it, 5.4 loses the
 * eighth digest of every list and refuses any quote of eight or more PCRs.
 */
public final class AttestationFiles {
    public static final String KEY = "key.pem";
    public static final String MESSAGE = "quote.msg";
    public static final String SIGNATURE = "quote.sig";
    public static final String PCRS = "quote.pcrs";
    public static final String NONCE = "nonce.hex";
    public static final String PCR_LIST = "pcr-list";

    private AttestationFiles() {
    }

    /** {@code pcrMask} as tpm2-tools writes a selection: {@code sha256:0,1,17}. */
    public static String pcrList(int pcrMask) {
        List<String> pcrs = new ArrayList<>();
        for (int i = 0; i < Pcrs.COUNT; i++) {
            if ((pcrMask & 1 << i) != 0) {
                pcrs.add(Integer.toString(i));
            }
        }
        return "sha256:" + String.join(",", pcrs);
    }

    public static String pem(ECPublicKey key) {
        return "-----BEGIN PUBLIC KEY-----\n"
            + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded())
            + "\n-----END PUBLIC KEY-----\n";
    }

    static final int SELECTION_BYTES = 4 + 16 * 8;
    static final int DIGEST_LIST_BYTES = 4 + 8 * (2 + 64);

    /** Where digest {@code k} (0-based, in PCR order) starts in the PCR file. */
    public static int digestOffset(int k) {
        return SELECTION_BYTES + 4 + (k / 8) * DIGEST_LIST_BYTES + 4 + (k % 8) * (2 + 64) + 2;
    }

    /** The PCR file: the selection {@code pcrMask} and its {@code values}, in tpm2-tools' serialized form. */
    public static byte[] serializedPcrs(int pcrMask, byte[][] values) {
        int lists = (values.length + 7) / 8;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(SELECTION_BYTES + 4 + lists * DIGEST_LIST_BYTES)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putInt(1).putShort((short) Tpm2.ALG_SHA256).put((byte) 3).put((byte) pcrMask).put((byte) (pcrMask >>> 8))
            .put((byte) (pcrMask >>> 16)).put((byte) 0);
        b.position(SELECTION_BYTES);
        b.putInt(lists);
        for (int l = 0; l < lists; l++) {
            int start = SELECTION_BYTES + 4 + l * DIGEST_LIST_BYTES;
            int n = Math.min(8, values.length - 8 * l);
            b.position(start);
            b.putInt(n);
            for (int i = 0; i < n; i++) {
                b.position(digestOffset(8 * l + i) - 2);
                b.putShort((short) Pcrs.DIGEST_BYTES).put(values[8 * l + i]);
            }
        }
        return b.array();
    }

    /** The PCR values of a PCR file {@link #serializedPcrs} wrote, in order. */
    public static byte[][] pcrValuesOf(byte[] file) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(file).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int lists = b.getInt(SELECTION_BYTES);
        if (lists < 0 || lists > 3 || file.length != SELECTION_BYTES + 4 + lists * DIGEST_LIST_BYTES) {
            throw new IllegalArgumentException("PCR file: " + file.length + " bytes for " + lists + " digest lists");
        }
        List<byte[]> out = new ArrayList<>();
        for (int l = 0; l < lists; l++) {
            int n = b.getInt(SELECTION_BYTES + 4 + l * DIGEST_LIST_BYTES);
            for (int i = 0; i < n && i < 8; i++) {
                int at = digestOffset(8 * l + i);
                out.add(java.util.Arrays.copyOfRange(file, at, at + Pcrs.DIGEST_BYTES));
            }
        }
        return out.toArray(new byte[0][]);
    }

    /** Writes the six files into {@code dir} (made if missing). */
    public static void write(Path dir, ECPublicKey key, Quote quote, byte[] nonce, int pcrMask, byte[][] pcrValues) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(KEY), pem(key), StandardCharsets.US_ASCII);
        Files.write(dir.resolve(MESSAGE), quote.attest());
        Files.write(dir.resolve(SIGNATURE), quote.signature());
        Files.write(dir.resolve(PCRS), serializedPcrs(pcrMask, pcrValues));
        Files.writeString(dir.resolve(NONCE), HexFormat.of().formatHex(nonce) + "\n", StandardCharsets.US_ASCII);
        Files.writeString(dir.resolve(PCR_LIST), pcrList(pcrMask) + "\n", StandardCharsets.US_ASCII);
    }

    /** The {@code tpm2_checkquote} command line that judges the files in {@code dir}. */
    public static List<String> checkquote(Path dir, byte[] nonce, int pcrMask) {
        return List.of("tpm2_checkquote", "-u", dir.resolve(KEY).toString(), "-m", dir.resolve(MESSAGE).toString(), "-s",
            dir.resolve(SIGNATURE).toString(), "-f", dir.resolve(PCRS).toString(), "-g", "sha256", "-q", HexFormat.of().formatHex(nonce));
    }
}
