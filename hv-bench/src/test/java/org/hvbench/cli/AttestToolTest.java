package org.hvbench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.hvbench.core.tpm.AttestationFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** attest.sh's Java half: export writes the files tpm2_checkquote reads; verify judges them. */
class AttestToolTest {
    @TempDir
    Path dir;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        out.reset();
        err.reset();
        return AttestTool.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void anExportedQuoteVerifiesAndAChangedByteDoesNot() throws Exception {
        assertEquals(0, run("export", dir.toString(), "--nonce", "00112233445566778899aabbccddeeff", "--pcrs", "0,4,5,17"), err());
        String printed = out.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("tpm2_checkquote -u " + dir.resolve("key.pem")) && printed.contains("-f " + dir.resolve("quote.pcrs"))
            && printed.contains("-q 00112233445566778899aabbccddeeff"), printed);
        assertEquals("sha256:0,4,5,17", Files.readString(dir.resolve(AttestationFiles.PCR_LIST)).trim());
        assertEquals(132 + 4 + 532, Files.size(dir.resolve(AttestationFiles.PCRS)), "tpm2-tools' serialized PCR file, one digest list");
        assertTrue(Files.readString(dir.resolve(AttestationFiles.KEY)).startsWith("-----BEGIN PUBLIC KEY-----\n"));
        assertEquals(0, run("verify", dir.toString()), err());
        byte[][] replayed = org.hvbench.core.tpm.EventLog.decode(Files.readAllBytes(dir.resolve(AttestTool.EVENT_LOG))).replay();
        byte[][] values = AttestationFiles.pcrValuesOf(Files.readAllBytes(dir.resolve(AttestationFiles.PCRS)));
        int k = 0;
        for (int pcr : new int[] {0, 4, 5, 17}) {
            assertEquals(java.util.HexFormat.of().formatHex(replayed[pcr]), java.util.HexFormat.of().formatHex(values[k++]),
                "the log replays PCR " + pcr);
        }

        byte[] msg = Files.readAllBytes(dir.resolve(AttestationFiles.MESSAGE));
        msg[msg.length / 2] ^= 1;
        Files.write(dir.resolve(AttestationFiles.MESSAGE), msg);
        assertEquals(1, run("verify", dir.toString()));
        assertTrue(err().contains("refused: the signature does not verify"), err());
        msg[msg.length / 2] ^= 1;
        Files.write(dir.resolve(AttestationFiles.MESSAGE), msg);
        assertEquals(1, run("verify", dir.toString(), "--nonce", "00112233445566778899aabbccddeefe"));
        assertTrue(err().contains("not the verifier's nonce"), err());
        assertEquals(1, run("verify", dir.toString(), "--pcrs", "0,4,5"));
    }

    @Test
    void badSettingsAreNamedWithWhatIsAllowed() {
        assertEquals(2, run("export", dir.toString(), "--pcrs", "0,24"));
        assertTrue(err().contains("--pcrs '0,24' holds PCR 24; allowed: PCR numbers 0 to 23"), err());
        assertEquals(2, run("export", dir.toString(), "--nonce", "zz"));
        assertTrue(err().contains("--nonce 'zz'") && err().contains("allowed: 1 to 34 bytes in hex"), err());
        assertEquals(2, run("export", dir.toString(), "--nonce", "00".repeat(35)));
        assertEquals(2, run("sign", dir.toString()));
        assertTrue(err().startsWith("usage: attest export"), err());
        assertEquals(2, run("export", dir.toString(), "--colour", "red"));
        assertTrue(err().contains("unknown option '--colour'"), err());
    }
}
