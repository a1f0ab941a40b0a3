package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.tpm.Pcrs;
import org.hvbench.core.tpm.Quote;
import org.hvbench.core.tpm.QuoteVerifier;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.TpmCommands;
import org.hvbench.core.tpm.Vtpm;
import org.junit.jupiter.api.Timeout;

/**
 * A guest's vTPM fed any bytes as TPM 2.0 commands, at any locality: raw bytes, valid commands with
 * bytes changed, and valid commands that move its state (startup, extend, reset, keys, quotes,
 * flushes). After every command: nothing escaped; the response is a well-formed TPM response whose
 * size field is its length, and an error is exactly the 10-byte header; the PCRs changed only by a
 * command that succeeded, and only those the PC Client profile lets the command's locality extend or
 * reset (at locality 0, none of the dynamic root's 17 to 22; at 1, of those only 20); a quote
 * that succeeded verifies; another guest's vTPM is untouched.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz: {@code scripts/fuzz.sh tpm}.
 */
class TpmFuzzTest {
    static final int RAW = 0;
    static final int MUTATE = 1;
    static final int VALID = 2;
    static final int ACTIONS = 3;
    static final int COMMANDS = 8;

    private static Vtpm bystander;
    private static byte[][] bystanderPcrs;

    private static byte[][] snapshot(Vtpm t) {
        byte[][] v = new byte[Pcrs.COUNT][];
        for (int i = 0; i < Pcrs.COUNT; i++) {
            v[i] = t.pcrs().value(i);
        }
        return v;
    }

    /** Valid command {@code which} into {@code cmd}; returns its length. */
    private static int valid(FuzzInput in, int which, byte[] cmd, int key) {
        switch (which) {
            case 0:
                return TpmCommands.startup(cmd);
            case 1:
                return TpmCommands.pcrExtend(cmd, in.below(26) - 1, new byte[32]);
            case 2:
                return TpmCommands.pcrReset(cmd, in.below(25));
            case 3:
                return TpmCommands.pcrRead(cmd, in.i32() & 0xFF_FFFF);
            case 4:
                return TpmCommands.getRandom(cmd, in.u16());
            case 5:
                return TpmCommands.createPrimary(cmd, (int) in.pick(Tpm2.RH_OWNER, Tpm2.RH_ENDORSEMENT, Tpm2.RH_NULL, in.i32()), in.below(2) == 0);
            case 6:
                return TpmCommands.quote(cmd, in.below(4) == 0 ? in.i32() : key, in.bytes(Vtpm.MAX_DATA + 2), in.i32() & 0xFF_FFFF);
            default:
                return TpmCommands.flushContext(cmd, in.below(4) == 0 ? in.i32() : key);
        }
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aGuestsVtpmAnswersAnyCommandAndChangesOnlyWhatASuccessMay(byte[] input) {
        if (bystander == null) {
            bystander = new Vtpm(new SecureRandom(new byte[] {1}));
            byte[] c = new byte[Vtpm.MAX_BUFFER];
            byte[] r = new byte[Vtpm.MAX_BUFFER];
            bystander.execute(c, TpmCommands.startup(c), 0, r);
            bystander.execute(c, TpmCommands.pcrExtend(c, 0, new byte[32]), 0, r);
            bystanderPcrs = snapshot(bystander);
        }
        Vtpm tpm = new Vtpm();
        byte[] cmd = new byte[Vtpm.MAX_BUFFER + 16];
        byte[] rsp = new byte[Vtpm.MAX_BUFFER];
        int key = Tpm2.TRANSIENT_FIRST;
        FuzzInput in = new FuzzInput(input);
        while (in.more()) {
            int action = in.below(ACTIONS);
            int locality = in.below(8) == 0 ? in.i32() : in.below(5);
            int length;
            int which = -1;
            if (action == RAW) {
                byte[] raw = in.bytes(Vtpm.MAX_BUFFER + 8);
                System.arraycopy(raw, 0, cmd, 0, raw.length);
                length = in.below(8) == 0 ? in.i32() : raw.length;
            } else {
                which = in.below(COMMANDS);
                length = valid(in, which, cmd, key);
                if (action == MUTATE) {
                    for (int n = in.below(4) + 1; n > 0; n--) {
                        cmd[in.below(length)] = (byte) in.u8();
                    }
                }
            }
            byte[][] before = snapshot(tpm);
            int n = tpm.execute(cmd, length, locality, rsp);
            int rc = TpmCommands.rc(rsp);
            assertTrue(n >= 10 && n <= Vtpm.MAX_BUFFER, "response length " + n);
            assertEquals(n, (rsp[2] & 0xFF) << 24 | (rsp[3] & 0xFF) << 16 | (rsp[4] & 0xFF) << 8 | rsp[5] & 0xFF, "size field");
            int tag = (rsp[0] & 0xFF) << 8 | rsp[1] & 0xFF;
            assertTrue(tag == Tpm2.ST_NO_SESSIONS || tag == Tpm2.ST_SESSIONS, "tag");
            if (rc != Tpm2.RC_SUCCESS) {
                assertEquals(10, n, "an error is the header alone: " + Tpm2.rcName(rc));
                assertEquals(Tpm2.ST_NO_SESSIONS, tag);
                for (int i = 0; i < Pcrs.COUNT; i++) {
                    assertArrayEquals(before[i], tpm.pcrs().value(i), "PCR " + i + " after " + Tpm2.rcName(rc));
                }
            }
            // A PCR changes only where the PC Client profile lets this locality extend or reset it (or a startup).
            boolean startup = rc == Tpm2.RC_SUCCESS && ((cmd[6] & 0xFF) << 24 | (cmd[7] & 0xFF) << 16 | (cmd[8] & 0xFF) << 8 | cmd[9] & 0xFF) == Tpm2.CC_STARTUP;
            for (int i = 0; i < Pcrs.COUNT && !startup; i++) {
                if (!Pcrs.mayExtend(i, locality) && !Pcrs.mayReset(i, locality)) {
                    assertArrayEquals(before[i], tpm.pcrs().value(i), "PCR " + i + " at locality " + locality);
                }
            }
            if (rc == Tpm2.RC_SUCCESS && action == VALID && which == 5) {
                key = TpmCommands.createdHandleUnchecked(rsp);
            }
            if (rc == Tpm2.RC_SUCCESS && action == VALID && which == 6) {
                verifyQuote(tpm, cmd, rsp, n);
            }
        }
        for (int i = 0; i < Pcrs.COUNT; i++) {
            assertArrayEquals(bystanderPcrs[i], bystander.pcrs().value(i), "another guest's PCR " + i);
        }
    }

    private static void verifyQuote(Vtpm tpm, byte[] cmd, byte[] rsp, int n) {
        int handle = (cmd[10] & 0xFF) << 24 | (cmd[11] & 0xFF) << 16 | (cmd[12] & 0xFF) << 8 | cmd[13] & 0xFF;
        int nonceSize = (cmd[27] & 0xFF) << 8 | cmd[28] & 0xFF;
        byte[] nonce = java.util.Arrays.copyOfRange(cmd, 29, 29 + nonceSize);
        int sel = 29 + nonceSize + 4 + 4 + 2 + 1;
        int mask = cmd[sel] & 0xFF | (cmd[sel + 1] & 0xFF) << 8 | (cmd[sel + 2] & 0xFF) << 16;
        byte[][] values = new byte[Integer.bitCount(mask)][];
        int k = 0;
        for (int i = 0; i < Pcrs.COUNT; i++) {
            if ((mask & 1 << i) != 0) {
                values[k++] = tpm.pcrs().value(i);
            }
        }
        try {
            Quote q = TpmCommands.quoteOf(rsp, n);
            QuoteVerifier.Result r = QuoteVerifier.verify(tpm.publicKey(handle), q, nonce, mask, values);
            assertTrue(r.valid(), r.reason());
        } catch (org.hvbench.core.tpm.TpmException e) {
            throw new AssertionError("a successful quote's response does not parse: " + e.getMessage(), e);
        }
    }
}
