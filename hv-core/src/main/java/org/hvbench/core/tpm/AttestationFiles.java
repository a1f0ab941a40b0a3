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
 * quote.pcrs   the selected PCRs' values, 32 bytes each in PCR order             (-f, with -l)
 * nonce.hex    the verifier's qualifying data in hex                            (-q)
 * pcr-list     the selection in tpm2-tools' syntax, e.g. sha256:0,1,17           (-l)
 * </pre>
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

    /** Writes the six files into {@code dir} (made if missing). */
    public static void write(Path dir, ECPublicKey key, Quote quote, byte[] nonce, int pcrMask, byte[][] pcrValues) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(KEY), pem(key), StandardCharsets.US_ASCII);
        Files.write(dir.resolve(MESSAGE), quote.attest());
        Files.write(dir.resolve(SIGNATURE), quote.signature());
        byte[] values = new byte[pcrValues.length * Pcrs.DIGEST_BYTES];
        for (int i = 0; i < pcrValues.length; i++) {
            System.arraycopy(pcrValues[i], 0, values, i * Pcrs.DIGEST_BYTES, Pcrs.DIGEST_BYTES);
        }
        Files.write(dir.resolve(PCRS), values);
        Files.writeString(dir.resolve(NONCE), HexFormat.of().formatHex(nonce) + "\n", StandardCharsets.US_ASCII);
        Files.writeString(dir.resolve(PCR_LIST), pcrList(pcrMask) + "\n", StandardCharsets.US_ASCII);
    }

    /** The {@code tpm2_checkquote} command line that judges the files in {@code dir}. */
    public static List<String> checkquote(Path dir, byte[] nonce, int pcrMask) {
        return List.of("tpm2_checkquote", "-u", dir.resolve(KEY).toString(), "-m", dir.resolve(MESSAGE).toString(), "-s",
            dir.resolve(SIGNATURE).toString(), "-f", dir.resolve(PCRS).toString(), "-l", pcrList(pcrMask), "-g", "sha256", "-q",
            HexFormat.of().formatHex(nonce));
    }
}
