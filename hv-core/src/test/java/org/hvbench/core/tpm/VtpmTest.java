package org.hvbench.core.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.security.interfaces.ECPublicKey;
import java.util.Arrays;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** One vTPM instance driven with TPM 2.0 commands as a guest's driver sends them. */
class VtpmTest {
    private static final int QUOTED = 1 << 0 | 1 << 1 | 1 << 7 | 1 << 17;
    private final byte[] cmd = new byte[Vtpm.MAX_BUFFER];
    private final byte[] rsp = new byte[Vtpm.MAX_BUFFER];
    private Vtpm tpm;
    private int rspLength;

    @BeforeEach
    void start() {
        tpm = new Vtpm();
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.startup(cmd), 0));
    }

    private int run(int length, int locality) {
        rspLength = tpm.execute(cmd, length, locality, rsp);
        assertEquals(rspLength, TpmBuffer.getInt(rsp, 2), "the response's size field is its length");
        return TpmCommands.rc(rsp);
    }

    static byte[] sha256(String s) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(s.getBytes());
    }

    private byte[][] read(int mask) throws Exception {
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.pcrRead(cmd, mask), 0));
        return TpmCommands.pcrValues(rsp, rspLength);
    }

    @Test
    void startupLeavesTheStaticPcrsZeroAndTheDynamicOnesAllOnes() throws Exception {
        byte[][] v = read(1 << 0 | 1 << 16 | 1 << 17 | 1 << 22 | 1 << 23);
        byte[] ones = new byte[32];
        Arrays.fill(ones, (byte) 0xFF);
        assertArrayEquals(new byte[32], v[0]);
        assertArrayEquals(new byte[32], v[1], "PCR 16");
        assertArrayEquals(ones, v[2], "PCR 17: no dynamic launch happened");
        assertArrayEquals(ones, v[3], "PCR 22");
        assertArrayEquals(new byte[32], v[4], "PCR 23");
    }

    @Test
    void extendHashesTheOldValueWithTheDigest() throws Exception {
        byte[] d = sha256("kernel");
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.pcrExtend(cmd, 4, d), 0));
        assertEquals(Tpm2.ST_SESSIONS, TpmBuffer.getInt(rsp, 0) >>> 16, "a command with a session gets one back");
        assertEquals(10 + 4 + 5, rspLength, "header, parameterSize 0, the session's acknowledgement");
        MessageDigest h = MessageDigest.getInstance("SHA-256");
        h.update(new byte[32]);
        h.update(d);
        assertArrayEquals(h.digest(), read(1 << 4)[0]);
    }

    @Test
    void beforeStartupAndAfterItTheTpmSaysInitialize() {
        Vtpm fresh = new Vtpm();
        int n = TpmCommands.pcrRead(cmd, 1);
        fresh.execute(cmd, n, 0, rsp);
        assertEquals(Tpm2.RC_INITIALIZE, TpmCommands.rc(rsp));
        assertEquals(Tpm2.RC_INITIALIZE, run(TpmCommands.startup(cmd), 0), "a second startup");
    }

    @Test
    void thePcrsOfTheDynamicRootObeyTheirLocalities() throws Exception {
        byte[] before = read(1 << 17)[0];
        for (int locality = 0; locality <= 3; locality++) {
            assertEquals(Tpm2.RC_LOCALITY, run(TpmCommands.pcrReset(cmd, 17), locality), "reset of 17 at " + locality);
        }
        for (int locality = 0; locality <= 1; locality++) {
            assertEquals(Tpm2.RC_LOCALITY, run(TpmCommands.pcrExtend(cmd, 17, sha256("x")), locality), "extend of 17 at " + locality);
        }
        assertArrayEquals(before, read(1 << 17)[0], "refused commands left PCR 17 alone");
        assertEquals(Tpm2.RC_LOCALITY, tpm.dynamicLaunch(sha256("loader"), 3));
        assertArrayEquals(before, read(1 << 17)[0]);

        assertEquals(Tpm2.RC_SUCCESS, tpm.dynamicLaunch(sha256("loader"), 4));
        MessageDigest h = MessageDigest.getInstance("SHA-256");
        h.update(new byte[32]);
        h.update(sha256("loader"));
        assertArrayEquals(h.digest(), read(1 << 17)[0], "17 = H(0 || H(loader)) after the launch");
        assertArrayEquals(new byte[32], read(1 << 18)[0], "18 to 22 reset to zero by the launch");
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.pcrExtend(cmd, 17, sha256("measured by the loader")), 2),
            "the launched code (locality 2) extends 17, as the PC Client profile allows");
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.pcrReset(cmd, TpmCommands.DEBUG_PCR), 0), "PCR 16 resets at any locality");
        assertEquals(Tpm2.RC_LOCALITY, run(TpmCommands.pcrReset(cmd, 0), 4), "PCR 0 resets only at startup");
    }

    @Test
    void aQuoteVerifiesAndAnyChangeToItsPartsIsRefused() throws Exception {
        run(TpmCommands.pcrExtend(cmd, 0, sha256("firmware")), 0);
        run(TpmCommands.pcrExtend(cmd, 7, sha256("secure boot")), 0);
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.createPrimary(cmd, Tpm2.RH_ENDORSEMENT, true), 0));
        int key = TpmCommands.createdHandle(rsp, rspLength);
        ECPublicKey pub = TpmCommands.createdKey(rsp, rspLength);
        byte[] nonce = sha256("verifier's nonce");
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.quote(cmd, key, nonce, QUOTED), 0));
        Quote q = TpmCommands.quoteOf(rsp, rspLength);
        byte[][] values = read(QUOTED);
        assertEquals(4, values.length);

        assertTrue(QuoteVerifier.verify(pub, q, nonce, QUOTED, values).valid(), QuoteVerifier.verify(pub, q, nonce, QUOTED, values).reason());
        assertEquals(Tpm2.GENERATED_VALUE, TpmBuffer.getInt(q.attest(), 0));
        assertEquals(Tpm2.ST_ATTEST_QUOTE, TpmBuffer.getInt(q.attest(), 4) >>> 16);

        for (int i = 0; i < q.attest().length; i++) {
            byte[] m = q.attest().clone();
            m[i] ^= 1;
            assertFalse(QuoteVerifier.verify(pub, new Quote(m, q.signature()), nonce, QUOTED, values).valid(), "message byte " + i);
        }
        byte[] otherNonce = nonce.clone();
        otherNonce[5] ^= 0x40;
        assertFalse(QuoteVerifier.verify(pub, q, otherNonce, QUOTED, values).valid());
        byte[][] otherValues = new byte[][] {values[0], values[1].clone(), values[2], values[3]};
        otherValues[1][31] ^= 1;
        assertEquals("the PCR values do not hash to the quoted digest", QuoteVerifier.verify(pub, q, nonce, QUOTED, otherValues).reason());
        assertFalse(QuoteVerifier.verify(pub, q, nonce, QUOTED | 1 << 2, values).valid(), "another selection");
        byte[] sig = q.signature().clone();
        sig[sig.length - 1] ^= 1;
        assertFalse(QuoteVerifier.verify(pub, new Quote(q.attest(), sig), nonce, QUOTED, values).valid());
    }

    @Test
    void theSameTemplateInTheSameHierarchyGivesTheSameKeyUntilTheSeedChanges() throws Exception {
        run(TpmCommands.createPrimary(cmd, Tpm2.RH_OWNER, true), 0);
        ECPublicKey a = TpmCommands.createdKey(rsp, rspLength);
        run(TpmCommands.createPrimary(cmd, Tpm2.RH_OWNER, true), 0);
        ECPublicKey b = TpmCommands.createdKey(rsp, rspLength);
        run(TpmCommands.createPrimary(cmd, Tpm2.RH_ENDORSEMENT, true), 0);
        ECPublicKey c = TpmCommands.createdKey(rsp, rspLength);
        assertEquals(a.getW(), b.getW());
        assertNotEquals(a.getW(), c.getW(), "another hierarchy, another seed");
        assertEquals(Tpm2.RC_OBJECT_MEMORY, run(TpmCommands.createPrimary(cmd, Tpm2.RH_OWNER, false), 0), "three slots are full");
        Vtpm other = new Vtpm();
        int n = TpmCommands.startup(cmd);
        other.execute(cmd, n, 0, rsp);
        n = TpmCommands.createPrimary(cmd, Tpm2.RH_OWNER, true);
        rspLength = other.execute(cmd, n, 0, rsp);
        assertNotEquals(a.getW(), TpmCommands.createdKey(rsp, rspLength).getW(), "another TPM, another seed");
    }

    @Test
    void flushFreesASlotAndAFlushedHandleIsGone() throws Exception {
        run(TpmCommands.createPrimary(cmd, Tpm2.RH_OWNER, true), 0);
        int key = TpmCommands.createdHandle(rsp, rspLength);
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.flushContext(cmd, key), 0));
        assertEquals(Tpm2.parameterError(Tpm2.RC_HANDLE, 1), run(TpmCommands.flushContext(cmd, key), 0));
        assertEquals(Tpm2.handleError(Tpm2.RC_HANDLE, 1), run(TpmCommands.quote(cmd, key, new byte[4], QUOTED), 0));
    }

    @Test
    void getRandomGivesAtMostADigestsWorth() throws Exception {
        assertEquals(Tpm2.RC_SUCCESS, run(TpmCommands.getRandom(cmd, 16), 0));
        assertEquals(16, TpmCommands.randomBytes(rsp, rspLength).length);
        run(TpmCommands.getRandom(cmd, 1000), 0);
        assertEquals(32, TpmCommands.randomBytes(rsp, rspLength).length);
    }

    @Test
    void malformedCommandsGetTheirResponseCodes() {
        int n = TpmCommands.pcrRead(cmd, 1);
        assertEquals(Tpm2.RC_COMMAND_SIZE, run(n - 1, 0), "size field larger than the bytes");
        assertEquals(Tpm2.RC_COMMAND_SIZE, run(5, 0), "shorter than a header");
        cmd[0] = (byte) 0x00;
        cmd[1] = (byte) 0xC1;
        assertEquals(Tpm2.RC_BAD_TAG, run(n, 0), "a TPM 1.2 tag");
        n = TpmCommands.pcrRead(cmd, 1);
        TpmBuffer.putInt(cmd, 6, 0x0000_0199);
        assertEquals(Tpm2.RC_COMMAND_CODE, run(n, 0));
        n = TpmCommands.pcrExtend(cmd, 3, new byte[32]);
        cmd[1] = (byte) 0x01;
        assertEquals(Tpm2.RC_AUTH_MISSING, run(n, 0), "an extend without a session");
        n = TpmCommands.pcrExtend(cmd, 24, new byte[32]);
        assertEquals(Tpm2.handleError(Tpm2.RC_HANDLE, 1), run(n, 0), "there is no PCR 24");
        n = TpmCommands.pcrExtend(cmd, 3, new byte[32]);
        cmd[10 + 4 + 4 + 4 + 1] = 1;
        assertEquals(Tpm2.sessionError(Tpm2.RC_SIZE, 1), run(n, 0), "a password session carries no nonce");
        n = TpmCommands.quote(cmd, 0x8000_0000, new byte[Vtpm.MAX_DATA + 1], QUOTED);
        assertEquals(Tpm2.handleError(Tpm2.RC_HANDLE, 1), run(n, 0));
        n = TpmCommands.pcrRead(cmd, 1);
        cmd[n - 4] = 5;
        assertEquals(Tpm2.parameterError(Tpm2.RC_VALUE, 1), run(n, 0), "sizeofSelect 5");
        n = TpmCommands.pcrRead(cmd, 1);
        TpmBuffer.putInt(cmd, 2, n + 1);
        cmd[n] = 0;
        assertEquals(Tpm2.parameterError(Tpm2.RC_SIZE, 1), run(n + 1, 0), "a byte after the parameters");
        assertEquals(Tpm2.RC_LOCALITY, run(TpmCommands.pcrRead(cmd, 1), 5), "there is no locality 5");
    }

    @Test
    void aWrongPasswordIsRefusedAndChangesNothing() throws Exception {
        byte[] before = read(1 << 3)[0];
        int n = TpmCommands.pcrExtend(cmd, 3, sha256("x"));
        // Give the session a one-byte password: authorizationSize 10, hmac size 1.
        byte[] with = new byte[n + 1];
        System.arraycopy(cmd, 0, with, 0, 10 + 4);
        TpmBuffer.putInt(with, 14, 10);
        System.arraycopy(cmd, 18, with, 18, 4 + 2 + 1);
        TpmBuffer.putShort(with, 25, 1);
        with[27] = 'p';
        System.arraycopy(cmd, 27, with, 28, n - 27);
        TpmBuffer.putInt(with, 2, n + 1);
        System.arraycopy(with, 0, cmd, 0, with.length);
        assertEquals(Tpm2.sessionError(Tpm2.RC_BAD_AUTH, 1), run(n + 1, 0));
        assertArrayEquals(before, read(1 << 3)[0]);
    }
}
