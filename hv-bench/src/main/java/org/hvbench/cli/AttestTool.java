package org.hvbench.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.interfaces.ECPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;

import org.hvbench.core.arch.VtpmHost;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.tpm.AttestationFiles;
import org.hvbench.core.tpm.EventLog;
import org.hvbench.core.tpm.Quote;
import org.hvbench.core.tpm.QuoteVerifier;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.TpmCommands;
import org.hvbench.core.tpm.TpmException;
import org.hvbench.core.tpm.Vtpm;

/**
 * {@code scripts/attest.sh}'s Java half: the toolstack measures a guest's boot into the guest's vTPM
 * in the TPM domain; the guest, through its tpmfront, makes an attestation key and quotes; the quote
 * is written as the files {@code tpm2_checkquote} reads, with the boot's event log
 * ({@code eventlog.bin}, the TCG crypto-agile format {@code tpm2_eventlog} reads).
 *
 * <pre>
 * AttestTool export DIR [--nonce HEX] [--pcrs LIST]   quote and write the files (LIST: 0,1,7,17)
 * AttestTool verify DIR [--nonce HEX] [--pcrs LIST]   judge the files with this project's verifier
 * </pre>
 *
 * Exit status 0; 1 when the verifier refuses or a file cannot be read or written; 2 for bad usage.
 */
public final class AttestTool {
    static final String USAGE = String.join("\n",
        "usage: attest export DIR [--nonce HEX] [--pcrs LIST]   a guest's vTPM quotes; write the files tpm2_checkquote reads",
        "       attest verify DIR [--nonce HEX] [--pcrs LIST]   check those files with hvbench's own verifier",
        "  --nonce HEX   the verifier's qualifying data, 1 to " + Vtpm.MAX_DATA + " bytes (default: 32 fresh random bytes"
            + " on export, the nonce.hex file on verify)",
        "  --pcrs LIST   the SHA-256 PCRs to quote, 0 to 23, comma-separated (default 0,1,2,3,4,5,6,7,17 on export,"
            + " the pcr-list file on verify)");
    static final int DEFAULT_PCRS = 0xFF | 1 << 17;
    static final String EVENT_LOG = "eventlog.bin";
    static final String CONFIG = "name = \"guest-0\"\nmemory = 2\nvcpus = 1\nkernel = \"vmlinuz-hvbench\"\nvtpm = [\"backend=tpm\"]\n";

    private AttestTool() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            out.println(USAGE);
            return 0;
        }
        if (args.length < 2 || !(args[0].equals("export") || args[0].equals("verify")) || args.length % 2 != 0) {
            err.println(USAGE);
            return 2;
        }
        Path dir = Paths.get(args[1]);
        byte[] nonce = null;
        Integer pcrs = null;
        for (int i = 2; i < args.length; i += 2) {
            try {
                switch (args[i]) {
                    case "--nonce":
                        nonce = HexFormat.of().parseHex(args[i + 1]);
                        if (nonce.length < 1 || nonce.length > Vtpm.MAX_DATA) {
                            throw new IllegalArgumentException("is " + nonce.length + " bytes");
                        }
                        break;
                    case "--pcrs":
                        pcrs = pcrMask(args[i + 1]);
                        break;
                    default:
                        err.println("attest: unknown option '" + args[i] + "'\n" + USAGE);
                        return 2;
                }
            } catch (IllegalArgumentException e) {
                err.println("attest: " + args[i] + " '" + args[i + 1] + "' " + e.getMessage() + "; allowed: "
                    + (args[i].equals("--nonce") ? "1 to " + Vtpm.MAX_DATA + " bytes in hex" : "PCR numbers 0 to 23, comma-separated"));
                return 2;
            }
        }
        try {
            return args[0].equals("export") ? export(dir, nonce, pcrs == null ? DEFAULT_PCRS : pcrs, out, err)
                : verify(dir, nonce, pcrs, out, err);
        } catch (IOException e) {
            err.println("attest: " + e);
            return 1;
        } catch (GeneralSecurityException | TpmException e) {
            err.println("attest: the vTPM or the key failed: " + e.getMessage());
            return 1;
        }
    }

    static int pcrMask(String list) {
        int mask = 0;
        for (String p : list.split(",", -1)) {
            int n;
            try {
                n = Integer.parseInt(p.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("holds '" + p + "', not a PCR number");
            }
            if (n < 0 || n > 23) {
                throw new IllegalArgumentException("holds PCR " + n);
            }
            mask |= 1 << n;
        }
        return mask;
    }

    private static int export(Path dir, byte[] nonce, int pcrs, PrintStream out, PrintStream err)
        throws IOException, GeneralSecurityException, TpmException {
        if (nonce == null) {
            nonce = new byte[32];
            new java.security.SecureRandom().nextBytes(nonce);
        }
        byte[] cmd = new byte[Vtpm.MAX_BUFFER];
        byte[] rsp = new byte[Vtpm.MAX_BUFFER];
        try (VtpmHost host = new VtpmHost(MachineConfig.defaults().memory(64L << 20), VtpmHost.Where.TPM_DOMAIN, 1)) {
            // The toolstack measures the guest's boot before it runs; then the guest, through its tpmfront,
            // makes an attestation key and quotes the verifier's nonce.
            EventLog log = host.measuredBoot(0, kernelImage(), CONFIG.getBytes(StandardCharsets.UTF_8));
            int n = call(host, cmd, TpmCommands.createPrimary(cmd, Tpm2.RH_ENDORSEMENT, true), rsp, "TPM2_CreatePrimary");
            int key = TpmCommands.createdHandle(rsp, n);
            ECPublicKey pub = TpmCommands.createdKey(rsp, n);
            n = call(host, cmd, TpmCommands.quote(cmd, key, nonce, pcrs), rsp, "TPM2_Quote");
            Quote quote = TpmCommands.quoteOf(rsp, n);
            byte[][] values = readPcrs(host, cmd, rsp, pcrs);
            QuoteVerifier.Result own = QuoteVerifier.verify(pub, quote, nonce, pcrs, values);
            if (!own.valid()) {
                err.println("attest: the quote fails this project's own verifier: " + own.reason());
                return 1;
            }
            byte[][] replayed = log.replay();
            int k = 0;
            for (int i = 0; i < 24; i++) {
                if ((pcrs & 1 << i) != 0 && !java.util.Arrays.equals(replayed[i], values[k++])) {
                    err.println("attest: the event log's replay of PCR " + i + " is not the vTPM's PCR " + i);
                    return 1;
                }
            }
            AttestationFiles.write(dir, pub, quote, nonce, pcrs, values);
            Files.write(dir.resolve(EVENT_LOG), log.encode());
            out.println("wrote " + dir + ": " + AttestationFiles.KEY + ", " + AttestationFiles.MESSAGE + " (" + quote.attest().length
                + " bytes), " + AttestationFiles.SIGNATURE + ", " + AttestationFiles.PCRS + " (" + values.length + " PCRs), "
                + AttestationFiles.NONCE + ", " + AttestationFiles.PCR_LIST + ", " + EVENT_LOG + " (" + log.events().size() + " events)");
            out.println(String.join(" ", AttestationFiles.checkquote(dir, nonce, pcrs)));
            return 0;
        }
    }

    /** A guest kernel image: 64 KiB of fixed bytes, the same at every run (so PCR 4 is too). */
    static byte[] kernelImage() {
        byte[] k = new byte[64 << 10];
        for (int i = 0; i < k.length; i++) {
            k[i] = (byte) (i * 31 + (i >>> 8));
        }
        return k;
    }

    private static byte[][] readPcrs(VtpmHost host, byte[] cmd, byte[] rsp, int pcrs) throws TpmException {
        // A read returns at most eight PCRs: read them in groups of eight.
        byte[][] values = new byte[Integer.bitCount(pcrs)][];
        int next = 0;
        int left = pcrs;
        while (left != 0) {
            int group = 0;
            for (int i = 0; i < 24 && Integer.bitCount(group) < 8; i++) {
                if ((left & 1 << i) != 0) {
                    group |= 1 << i;
                }
            }
            int n = call(host, cmd, TpmCommands.pcrRead(cmd, group), rsp, "TPM2_PCR_Read");
            for (byte[] v : TpmCommands.pcrValues(rsp, n)) {
                values[next++] = v;
            }
            left &= ~group;
        }
        return values;
    }

    /** The guest's command through its tpmfront; its response's length, or the TPM's refusal. */
    private static int call(VtpmHost host, byte[] cmd, int length, byte[] rsp, String what) throws TpmException {
        long n = host.command(0, cmd, length, 0, rsp);
        if (n < 0) {
            throw new IllegalStateException(what + ": the split driver answered " + org.hvbench.core.Errno.name(n));
        }
        int rc = TpmCommands.rc(rsp);
        if (rc != Tpm2.RC_SUCCESS) {
            throw new TpmException(rc);
        }
        return (int) n;
    }

    private static int verify(Path dir, byte[] nonce, Integer pcrList, PrintStream out, PrintStream err) throws IOException, GeneralSecurityException {
        int pcrs = pcrList != null ? pcrList
            : pcrMask(Files.readString(dir.resolve(AttestationFiles.PCR_LIST)).trim().replaceFirst("^sha256:", ""));
        String pem = Files.readString(dir.resolve(AttestationFiles.KEY), StandardCharsets.US_ASCII);
        String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        ECPublicKey key = (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(body)));
        if (nonce == null) {
            nonce = HexFormat.of().parseHex(Files.readString(dir.resolve(AttestationFiles.NONCE)).trim());
        }
        byte[][] values;
        try {
            values = AttestationFiles.pcrValuesOf(Files.readAllBytes(dir.resolve(AttestationFiles.PCRS)));
        } catch (IllegalArgumentException e) {
            err.println("attest: " + e.getMessage());
            return 1;
        }
        Quote q = new Quote(Files.readAllBytes(dir.resolve(AttestationFiles.MESSAGE)), Files.readAllBytes(dir.resolve(AttestationFiles.SIGNATURE)));
        QuoteVerifier.Result r = QuoteVerifier.verify(key, q, nonce, pcrs, values);
        (r.valid() ? out : err).println((r.valid() ? "valid: " : "refused: ") + r.reason());
        return r.valid() ? 0 : 1;
    }
}
