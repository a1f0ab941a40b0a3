package org.hvbench.core.tpm;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;

/** P-256 points between TPM 2.0's {@code TPMS_ECC_POINT} (two 32-byte coordinates) and the JDK's keys. */
public final class Ecc {
    public static final int COORDINATE_BYTES = 32;

    private Ecc() {
    }

    /** {@code v} as an unsigned big-endian integer of exactly 32 bytes. */
    public static byte[] coordinate(BigInteger v) {
        byte[] b = v.toByteArray();
        if (b.length == COORDINATE_BYTES) {
            return b;
        }
        if (b.length > COORDINATE_BYTES) {
            return Arrays.copyOfRange(b, b.length - COORDINATE_BYTES, b.length);
        }
        byte[] padded = new byte[COORDINATE_BYTES];
        System.arraycopy(b, 0, padded, COORDINATE_BYTES - b.length, b.length);
        return padded;
    }

    /** The P-256 public key with coordinates {@code x} and {@code y}. */
    public static ECPublicKey publicKey(byte[] x, byte[] y) throws GeneralSecurityException {
        AlgorithmParameters p = AlgorithmParameters.getInstance("EC");
        p.init(new ECGenParameterSpec("secp256r1"));
        ECParameterSpec spec = p.getParameterSpec(ECParameterSpec.class);
        ECPoint w = new ECPoint(new BigInteger(1, x), new BigInteger(1, y));
        return (ECPublicKey) KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, spec));
    }
}
