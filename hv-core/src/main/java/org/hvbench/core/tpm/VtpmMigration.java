package org.hvbench.core.tpm;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.spec.MGF1ParameterSpec;
import java.util.HashMap;
import java.util.Map;

import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;

/**
 * A vTPM moving with its guest to another machine: the source seals the instance's state
 * ({@link Vtpm#state}) under a fresh AES-256-GCM key, and wraps that key to the destination's RSA key
 * (RSA-OAEP with SHA-256); only the destination can open it, and it opens each blob once.
 *
 * <pre>
 * blob = header || wrapped key (256 bytes) || IV (12) || AES-GCM(state) with its 16-byte tag
 * header = magic "HVTPMIG1" (8) || instance id (8) || sequence (8), all of it the GCM's additional data
 * </pre>
 *
 * A blob altered anywhere fails the tag (or the unwrap); a blob whose sequence is not above the last
 * one the destination took from that instance is a replay and is refused. Everything is the JDK's
 * ({@code javax.crypto}); nothing is hand-written.
 */
public final class VtpmMigration {
    static final byte[] MAGIC = "HVTPMIG1".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    static final int HEADER = 8 + 8 + 8;
    static final int WRAPPED = 256;
    static final int IV = 12;
    static final int TAG_BITS = 128;
    private static final OAEPParameterSpec OAEP = new OAEPParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT);

    private VtpmMigration() {
    }

    /** A blob refused: altered, replayed, or not a migration blob. */
    public static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String why, Throwable cause) {
            super(why, cause);
        }
    }

    /** Seals {@code tpm}'s state for {@code destination}: instance {@code id}'s {@code sequence}-th migration. */
    public static byte[] export(Vtpm tpm, long id, long sequence, PublicKey destination) throws GeneralSecurityException {
        SecureRandom random = new SecureRandom();
        KeyGenerator g = KeyGenerator.getInstance("AES");
        g.init(256, random);
        SecretKey key = g.generateKey();
        Cipher wrap = Cipher.getInstance("RSA/ECB/OAEPPadding");
        wrap.init(Cipher.WRAP_MODE, destination, OAEP, random);
        byte[] wrapped = wrap.wrap(key);
        byte[] iv = new byte[IV];
        random.nextBytes(iv);
        byte[] header = ByteBuffer.allocate(HEADER).put(MAGIC).putLong(id).putLong(sequence).array();
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        gcm.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv));
        gcm.updateAAD(header);
        byte[] sealed = gcm.doFinal(tpm.state());
        return ByteBuffer.allocate(HEADER + wrapped.length + IV + sealed.length).put(header).put(wrapped).put(iv).put(sealed).array();
    }

    /** The machine a vTPM moves to: its RSA key pair, and the last sequence it took from each instance. */
    public static final class Destination {
        private final KeyPair rsa;
        private final Map<Long, Long> lastSequence = new HashMap<>();

        public Destination() throws GeneralSecurityException {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            rsa = g.generateKeyPair();
        }

        public PublicKey publicKey() {
            return rsa.getPublic();
        }

        /** Opens a blob: the instance, its PCRs and seeds intact, or {@link Refused}. */
        public Vtpm importState(byte[] blob) throws Refused {
            if (blob.length < HEADER + WRAPPED + IV + TAG_BITS / 8 || !java.util.Arrays.equals(java.util.Arrays.copyOf(blob, 8), MAGIC)) {
                throw new Refused("not a vTPM migration blob", null);
            }
            ByteBuffer b = ByteBuffer.wrap(blob);
            b.position(8);
            long id = b.getLong();
            long sequence = b.getLong();
            Long last = lastSequence.get(id);
            if (last != null && sequence <= last) {
                throw new Refused("replayed: instance " + id + " sequence " + sequence + ", already took " + last, null);
            }
            try {
                Cipher unwrap = Cipher.getInstance("RSA/ECB/OAEPPadding");
                unwrap.init(Cipher.UNWRAP_MODE, rsa.getPrivate(), OAEP);
                SecretKey key = (SecretKey) unwrap.unwrap(java.util.Arrays.copyOfRange(blob, HEADER, HEADER + WRAPPED), "AES", Cipher.SECRET_KEY);
                Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
                gcm.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, blob, HEADER + WRAPPED, IV));
                gcm.updateAAD(blob, 0, HEADER);
                byte[] state = gcm.doFinal(blob, HEADER + WRAPPED + IV, blob.length - HEADER - WRAPPED - IV);
                Vtpm t = Vtpm.fromState(state, new SecureRandom());
                lastSequence.put(id, sequence);
                return t;
            } catch (GeneralSecurityException | IllegalArgumentException e) {
                throw new Refused("altered or not for this destination: " + e.getClass().getSimpleName(), e);
            }
        }
    }
}
