package org.hvbench.core.tpm;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * A TPM's SHA-256 bank of 24 platform configuration registers, with the PC Client Platform TPM
 * Profile's attributes: which localities may extend and reset each PCR, and what a startup leaves in
 * it. PCRs 17 to 22 belong to the dynamic root of trust: a normal startup leaves them all ones, so a
 * quote tells a platform that never made a dynamic launch from one that did, and only locality 4 (the
 * processor itself, during {@code SKINIT} or {@code SENTER}) resets 17 to 19 to zero.
 */
public final class Pcrs {
    public static final int COUNT = 24;
    public static final int DIGEST_BYTES = 32;
    /** The first and last of the dynamic root's PCRs. */
    public static final int DRTM_FIRST = 17;
    public static final int DRTM_LAST = 22;

    // A bit per locality (bit 0 = locality 0 ... bit 4 = locality 4), from the PC Client profile's table
    // of PCR attributes: 0-15 the static root, 16 debug, 17-22 the dynamic root, 23 the application's.
    private static final int ALL = 0x1F;
    private static final int[] EXTEND = new int[COUNT];
    private static final int[] RESET = new int[COUNT];

    static {
        for (int i = 0; i < COUNT; i++) {
            EXTEND[i] = ALL;
        }
        RESET[16] = ALL;
        RESET[23] = ALL;
        // 17-19: reset by the CPU's locality 4 only; extended by 2 to 4 (the dynamic launch's loader and
        // the code it measures run at 2 and 3: Intel TXT's SINIT extends PCR 17 from locality 3).
        for (int i = 17; i <= 19; i++) {
            RESET[i] = 1 << 4;
            EXTEND[i] = 1 << 2 | 1 << 3 | 1 << 4;
        }
        RESET[20] = 1 << 2 | 1 << 4;
        EXTEND[20] = 1 << 1 | 1 << 2 | 1 << 3;
        RESET[21] = 1 << 2;
        EXTEND[21] = 1 << 2;
        RESET[22] = 1 << 2;
        EXTEND[22] = 1 << 2;
    }

    private final byte[][] values = new byte[COUNT][DIGEST_BYTES];
    private final MessageDigest sha256;
    private int updateCounter;

    public Pcrs() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        startup();
    }

    /** {@code TPM2_Startup(TPM_SU_CLEAR)}: 0-16 and 23 zero, 17-22 all ones. */
    void startup() {
        for (int i = 0; i < COUNT; i++) {
            Arrays.fill(values[i], i >= DRTM_FIRST && i <= DRTM_LAST ? (byte) 0xFF : 0);
        }
        updateCounter = 0;
    }

    public static boolean mayExtend(int pcr, int locality) {
        return pcr >= 0 && pcr < COUNT && locality >= 0 && locality <= 4 && (EXTEND[pcr] & 1 << locality) != 0;
    }

    public static boolean mayReset(int pcr, int locality) {
        return pcr >= 0 && pcr < COUNT && locality >= 0 && locality <= 4 && (RESET[pcr] & 1 << locality) != 0;
    }

    /** PCR {@code pcr} := SHA-256(PCR || digest[offset, offset+32)). The caller checked the locality. */
    void extend(int pcr, byte[] digest, int offset) {
        byte[] v = values[pcr];
        sha256.update(v);
        sha256.update(digest, offset, DIGEST_BYTES);
        try {
            sha256.digest(v, 0, DIGEST_BYTES);
        } catch (java.security.DigestException e) {
            throw new IllegalStateException("SHA-256 into a 32-byte PCR", e);
        }
        updateCounter++;
    }

    void reset(int pcr) {
        Arrays.fill(values[pcr], (byte) 0);
        updateCounter++;
    }

    /** The dynamic launch (locality 4): 17 to 22 back to zero, then the loader's digest into 17. */
    void dynamicLaunch(byte[] loaderDigest) {
        for (int i = DRTM_FIRST; i <= DRTM_LAST; i++) {
            Arrays.fill(values[i], (byte) 0);
        }
        extend(DRTM_FIRST, loaderDigest, 0);
    }

    /** A copy of PCR {@code pcr}'s value. */
    public byte[] value(int pcr) {
        return values[pcr].clone();
    }

    void copyValue(int pcr, byte[] dst, int offset) {
        System.arraycopy(values[pcr], 0, dst, offset, DIGEST_BYTES);
    }

    byte[] raw(int pcr) {
        return values[pcr];
    }

    public int updateCounter() {
        return updateCounter;
    }

    /** Restores values saved with {@link #value(int)} (a migrated vTPM's). */
    void restore(byte[][] saved, int counter) {
        for (int i = 0; i < COUNT; i++) {
            System.arraycopy(saved[i], 0, values[i], 0, DIGEST_BYTES);
        }
        updateCounter = counter;
    }
}
