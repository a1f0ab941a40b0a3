package org.hvbench.core.tpm;

import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.SecureRandomSpi;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A byte stream derived from a hierarchy's seed and a key's template, in the counter mode of
 * TPM 2.0's {@code KDFa} (HMAC-SHA256 over a counter, a label and the context). Given to the JDK's EC
 * key-pair generator, it makes a primary key a function of the seed and the template, as a TPM's is:
 * the same {@code TPM2_CreatePrimary} gives the same key until the seed changes, and a migrated seed
 * brings its keys with it. The key is still the JDK's; only its randomness is chosen here.
 */
final class DerivedRandom extends SecureRandom {
    private static final long serialVersionUID = 1L;

    DerivedRandom(byte[] seed, byte[] label, byte[] context) {
        super(new Spi(seed, label, context), null);
    }

    private static final class Spi extends SecureRandomSpi {
        private static final long serialVersionUID = 1L;
        private final transient Mac hmac;
        private final byte[] label;
        private final byte[] context;
        private final byte[] block = new byte[32];
        private int used = block.length;
        private int counter;

        Spi(byte[] seed, byte[] label, byte[] context) {
            try {
                hmac = Mac.getInstance("HmacSHA256");
                hmac.init(new SecretKeySpec(seed, "HmacSHA256"));
            } catch (NoSuchAlgorithmException | InvalidKeyException e) {
                throw new IllegalStateException("the JDK's HMAC-SHA256", e);
            }
            this.label = label.clone();
            this.context = context.clone();
        }

        @Override
        protected void engineSetSeed(byte[] seed) {
            // The stream is the seed's and the template's alone; more seed would make it another key.
        }

        @Override
        protected void engineNextBytes(byte[] bytes) {
            for (int i = 0; i < bytes.length; i++) {
                if (used == block.length) {
                    counter++;
                    hmac.update(new byte[] {(byte) (counter >>> 24), (byte) (counter >>> 16), (byte) (counter >>> 8), (byte) counter});
                    hmac.update(label);
                    hmac.update((byte) 0);
                    hmac.update(context);
                    try {
                        hmac.doFinal(block, 0);
                    } catch (javax.crypto.ShortBufferException e) {
                        throw new IllegalStateException(e);
                    }
                    used = 0;
                }
                bytes[i] = block[used++];
            }
        }

        @Override
        protected byte[] engineGenerateSeed(int numBytes) {
            byte[] b = new byte[numBytes];
            engineNextBytes(b);
            return b;
        }
    }
}
