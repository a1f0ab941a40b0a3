package org.hvbench.core.tpm;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.ECGenParameterSpec;
import java.util.Arrays;

/**
 * One software TPM 2.0, the instance a guest's commands reach (Perez, van Doorn and Sailer, section
 * IV.B: a TPM per guest in a TPM domain). It takes a command in the TPM 2.0 wire format and writes the
 * response a TPM would: {@link #execute} never throws on what a guest sends; a malformed or refused
 * command gets the response code the TPM 2.0 Library gives for it.
 *
 * <p>Commands: {@code TPM2_Startup} (clear), {@code TPM2_PCR_Extend}, {@code TPM2_PCR_Reset},
 * {@code TPM2_PCR_Read}, {@code TPM2_GetRandom}, {@code TPM2_CreatePrimary} (an ECC P-256 ECDSA
 * signing key), {@code TPM2_Quote} and {@code TPM2_FlushContext}. Authorization: password sessions
 * ({@code TPM_RS_PW}); hierarchies and PCRs have empty auth values, a key has the one it was created
 * with. One SHA-256 bank of 24 PCRs with the PC Client profile's locality rules ({@link Pcrs}). Up to
 * {@link #OBJECT_SLOTS} loaded objects. Not thread-safe: the TPM domain's back end serializes the
 * commands of an instance, as a TPM's interface does.
 */
public final class Vtpm {
    /** Largest command or response (a TPM's {@code MAX_COMMAND_SIZE}; Xen's tpmif page carries this much). */
    public static final int MAX_BUFFER = 4096;
    public static final int OBJECT_SLOTS = 3;
    /** {@code sizeof(TPMT_HA)} for the largest implemented digest, SHA-256: the limit of a {@code TPM2B_DATA}. */
    public static final int MAX_DATA = 2 + Pcrs.DIGEST_BYTES;
    static final int HEADER = 10;
    private static final long FIRMWARE_VERSION = 0x0001_0000_0000_0000L;

    private final Pcrs pcrs = new Pcrs();
    private final SecureRandom random;
    private final MessageDigest sha256;
    private final byte[] ownerSeed = new byte[32];
    private final byte[] endorsementSeed = new byte[32];
    private final byte[] platformSeed = new byte[32];
    private final byte[] proof = new byte[32];
    private final Key[] objects = new Key[OBJECT_SLOTS];
    private final TpmBuffer in = new TpmBuffer();
    private final TpmBuffer out = new TpmBuffer();
    private final byte[] scratch = new byte[MAX_BUFFER];
    private final byte[] auth = new byte[Pcrs.DIGEST_BYTES];
    private final byte[] randomBytes = new byte[Pcrs.DIGEST_BYTES];
    private boolean started;
    private int resetCount;
    private int restartCount;
    private long clockBase = System.nanoTime();
    private int nextHandle;
    private long commands;

    /** A loaded signing key. */
    static final class Key {
        final int handle;
        final int hierarchy;
        final KeyPair pair;
        final byte[] publicArea;
        final byte[] name;
        final byte[] qualifiedName;
        final int attributes;
        final int scheme;
        final byte[] userAuth;

        Key(int handle, int hierarchy, KeyPair pair, byte[] publicArea, byte[] name, byte[] qualifiedName, int attributes,
            int scheme, byte[] userAuth) {
            this.handle = handle;
            this.hierarchy = hierarchy;
            this.pair = pair;
            this.publicArea = publicArea;
            this.name = name;
            this.qualifiedName = qualifiedName;
            this.attributes = attributes;
            this.scheme = scheme;
            this.userAuth = userAuth;
        }
    }

    /** A new instance with fresh seeds, powered off until its first {@code TPM2_Startup}. */
    public Vtpm() {
        this(new SecureRandom());
    }

    /** A new instance whose seeds and nonces come from {@code random} (a seeded one makes it repeatable). */
    public Vtpm(SecureRandom random) {
        this.random = random;
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        random.nextBytes(ownerSeed);
        random.nextBytes(endorsementSeed);
        random.nextBytes(platformSeed);
        random.nextBytes(proof);
    }

    /**
     * The instance's state as migration carries it: the hierarchy seeds and the proof (so every
     * primary key comes back the same), the PCRs and their update counter, the reset and restart
     * counts, and whether it has started. Loaded objects are not carried: like a TPM's transient
     * objects across a reset, they are made again (CreatePrimary gives the same key from the same seed).
     */
    byte[] state() {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(STATE_BYTES);
        b.put(ownerSeed).put(endorsementSeed).put(platformSeed).put(proof);
        for (int i = 0; i < Pcrs.COUNT; i++) {
            b.put(pcrs.raw(i));
        }
        b.putInt(pcrs.updateCounter()).putInt(resetCount).putInt(restartCount).put((byte) (started ? 1 : 0));
        return b.array();
    }

    static final int STATE_BYTES = 4 * 32 + Pcrs.COUNT * Pcrs.DIGEST_BYTES + 4 + 4 + 4 + 1;

    /** An instance with the state {@link #state} gave (a migrated one), its objects unloaded. */
    static Vtpm fromState(byte[] state, SecureRandom random) {
        if (state.length != STATE_BYTES) {
            throw new IllegalArgumentException("vTPM state: " + state.length + " bytes, not " + STATE_BYTES);
        }
        Vtpm t = new Vtpm(random);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(state);
        b.get(t.ownerSeed).get(t.endorsementSeed).get(t.platformSeed).get(t.proof);
        byte[][] values = new byte[Pcrs.COUNT][Pcrs.DIGEST_BYTES];
        for (int i = 0; i < Pcrs.COUNT; i++) {
            b.get(values[i]);
        }
        t.pcrs.restore(values, b.getInt());
        t.resetCount = b.getInt();
        t.restartCount = b.getInt();
        t.started = b.get() == 1;
        return t;
    }

    /** The platform's reset: the TPM loses its volatile state and waits for {@code TPM2_Startup}. */
    public void powerOn() {
        started = false;
        Arrays.fill(objects, null);
    }

    public boolean started() {
        return started;
    }

    /** The PCR bank (read-only outside this package). */
    public Pcrs pcrs() {
        return pcrs;
    }

    /** Commands executed, refused ones included. */
    public long commands() {
        return commands;
    }

    /** The public key of loaded object {@code handle}, or null. */
    public ECPublicKey publicKey(int handle) {
        Key k = find(handle);
        return k == null ? null : (ECPublicKey) k.pair.getPublic();
    }

    /**
     * The dynamic root of trust's measurement (TPM 2.0's {@code _TPM_Hash_Start}, {@code _TPM_Hash_Data},
     * {@code _TPM_Hash_End}), which only the processor can send, at locality 4: PCRs 17 to 22 back to
     * zero, then the loader's SHA-256 extended into 17. Refused ({@code TPM_RC_LOCALITY}) from any
     * other locality, {@code TPM_RC_INITIALIZE} before startup.
     */
    public int dynamicLaunch(byte[] loaderDigest, int locality) {
        if (!started) {
            return Tpm2.RC_INITIALIZE;
        }
        if (locality != 4) {
            return Tpm2.RC_LOCALITY;
        }
        if (loaderDigest.length != Pcrs.DIGEST_BYTES) {
            return Tpm2.RC_SIZE;
        }
        pcrs.dynamicLaunch(loaderDigest);
        return Tpm2.RC_SUCCESS;
    }

    /**
     * Runs the command in {@code command[0, length)} at {@code locality} and writes its response into
     * {@code response} (at least {@link #MAX_BUFFER} bytes); returns the response's length.
     */
    public int execute(byte[] command, int length, int locality, byte[] response) {
        commands++;
        if (response.length < MAX_BUFFER) {
            throw new IllegalArgumentException("response buffer: " + response.length + " bytes, needs " + MAX_BUFFER);
        }
        int rc;
        try {
            return run(command, Math.max(0, Math.min(length, command.length)), locality, response);
        } catch (TpmException e) {
            rc = e.rc();
        } catch (GeneralSecurityException e) {
            rc = Tpm2.RC_FAILURE;
        }
        return errorResponse(response, rc);
    }

    /** Writes the 10-byte response of a refused command with code {@code rc}; returns 10. */
    public static int errorResponse(byte[] response, int rc) {
        TpmBuffer.putShort(response, 0, Tpm2.ST_NO_SESSIONS);
        TpmBuffer.putInt(response, 2, HEADER);
        TpmBuffer.putInt(response, 6, rc);
        return HEADER;
    }

    private int run(byte[] command, int length, int locality, byte[] response) throws TpmException, GeneralSecurityException {
        if (length < HEADER) {
            throw new TpmException(Tpm2.RC_COMMAND_SIZE);
        }
        in.reset(command, 0, length);
        int tag = in.u16();
        int size = in.u32();
        int cc = in.u32();
        if (tag != Tpm2.ST_NO_SESSIONS && tag != Tpm2.ST_SESSIONS) {
            throw new TpmException(Tpm2.RC_BAD_TAG);
        }
        if (size != length || size > MAX_BUFFER) {
            throw new TpmException(Tpm2.RC_COMMAND_SIZE);
        }
        int handles = handles(cc);
        if (handles < 0) {
            throw new TpmException(Tpm2.RC_COMMAND_CODE);
        }
        if (started == (cc == Tpm2.CC_STARTUP)) {
            throw new TpmException(Tpm2.RC_INITIALIZE);
        }
        if (locality < 0 || locality > 4) {
            throw new TpmException(Tpm2.RC_LOCALITY);
        }
        int h1 = 0;
        if (handles == 1) {
            in.handle(1);
            h1 = in.u32();
        }
        boolean sessions = tag == Tpm2.ST_SESSIONS;
        if (handles == 1 && !sessions) {
            throw new TpmException(Tpm2.RC_AUTH_MISSING);
        }
        if (handles == 0 && sessions) {
            throw new TpmException(Tpm2.RC_AUTH_CONTEXT);
        }
        int authLength = 0;
        if (sessions) {
            authLength = passwordSession();
        }
        in.parameter(1);
        out.reset(response, 0, MAX_BUFFER);
        out.position(HEADER);
        int parameterSizeAt = -1;
        switch (cc) {
            case Tpm2.CC_STARTUP:
                startup();
                break;
            case Tpm2.CC_PCR_READ:
                pcrRead();
                break;
            case Tpm2.CC_GET_RANDOM:
                getRandom();
                break;
            case Tpm2.CC_FLUSH_CONTEXT:
                flushContext();
                break;
            case Tpm2.CC_PCR_EXTEND:
                checkAuth(pcrAuth(h1), authLength);
                parameterSizeAt = beginParameters();
                pcrExtend(h1, locality);
                break;
            case Tpm2.CC_PCR_RESET:
                checkAuth(pcrAuth(h1), authLength);
                parameterSizeAt = beginParameters();
                pcrReset(h1, locality);
                break;
            case Tpm2.CC_CREATE_PRIMARY:
                checkAuth(hierarchyAuth(h1), authLength);
                // The new object's handle precedes the parameter area in the response.
                out.put32(0);
                parameterSizeAt = beginParameters();
                createPrimary(h1, locality, response);
                break;
            case Tpm2.CC_QUOTE: {
                Key key = find(h1);
                if (key == null) {
                    throw new TpmException(Tpm2.handleError(Tpm2.RC_HANDLE, 1));
                }
                checkAuth(key.userAuth, authLength);
                parameterSizeAt = beginParameters();
                quote(key);
                break;
            }
            default:
                throw new TpmException(Tpm2.RC_COMMAND_CODE);
        }
        if (in.remaining() != 0) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        if (parameterSizeAt >= 0) {
            TpmBuffer.putInt(response, parameterSizeAt, out.position() - parameterSizeAt - 4);
            // One password session's acknowledgement: empty nonce, continueSession, empty hmac.
            out.put16(0).put8(Tpm2.SESSION_CONTINUE).put16(0);
        }
        int n = out.position();
        TpmBuffer.putShort(response, 0, sessions ? Tpm2.ST_SESSIONS : Tpm2.ST_NO_SESSIONS);
        TpmBuffer.putInt(response, 2, n);
        TpmBuffer.putInt(response, 6, Tpm2.RC_SUCCESS);
        return n;
    }

    /** How many handles a command's handle area holds (all of them need authorization here), or -1. */
    private static int handles(int cc) {
        switch (cc) {
            case Tpm2.CC_STARTUP:
            case Tpm2.CC_PCR_READ:
            case Tpm2.CC_GET_RANDOM:
            case Tpm2.CC_FLUSH_CONTEXT:
                return 0;
            case Tpm2.CC_PCR_EXTEND:
            case Tpm2.CC_PCR_RESET:
            case Tpm2.CC_CREATE_PRIMARY:
            case Tpm2.CC_QUOTE:
                return 1;
            default:
                return -1;
        }
    }

    private int beginParameters() throws TpmException {
        int at = out.position();
        out.put32(0);
        return at;
    }

    /**
     * Reads the authorization area: exactly one password session. Leaves the password in
     * {@link #auth} and returns its length; the input stands at the parameters.
     */
    private int passwordSession() throws TpmException {
        in.parameter(1);
        int size = in.u32();
        if (size < 9 || size > in.remaining()) {
            throw new TpmException(Tpm2.RC_AUTHSIZE);
        }
        int end = in.position() + size;
        in.session(1);
        int handle = in.u32();
        if (handle != Tpm2.RS_PW) {
            throw new TpmException(Tpm2.sessionError(Tpm2.RC_HANDLE, 1));
        }
        if (in.tpm2b(0) != 0) {
            throw new TpmException(Tpm2.sessionError(Tpm2.RC_SIZE, 1));
        }
        int attributes = in.u8();
        if ((attributes & ~Tpm2.SESSION_CONTINUE) != 0) {
            throw new TpmException(Tpm2.sessionError(Tpm2.RC_ATTRIBUTES, 1));
        }
        int n = in.tpm2b(auth.length);
        System.arraycopy(in.array(), in.position() - n, auth, 0, n);
        if (in.position() != end) {
            // A second session (audit, encryption) is not implemented.
            throw new TpmException(Tpm2.RC_AUTHSIZE);
        }
        return n;
    }

    private void checkAuth(byte[] expected, int length) throws TpmException {
        // Constant time in the password's bytes, as a TPM compares.
        int diff = expected.length ^ length;
        for (int i = 0; i < Math.min(expected.length, length); i++) {
            diff |= expected[i] ^ auth[i];
        }
        if (diff != 0) {
            throw new TpmException(Tpm2.sessionError(Tpm2.RC_BAD_AUTH, 1));
        }
    }

    private static final byte[] EMPTY = new byte[0];

    private static byte[] pcrAuth(int handle) throws TpmException {
        if (handle < 0 || handle >= Pcrs.COUNT) {
            throw new TpmException(Tpm2.handleError(Tpm2.RC_HANDLE, 1));
        }
        return EMPTY;
    }

    private static byte[] hierarchyAuth(int handle) throws TpmException {
        if (handle != Tpm2.RH_OWNER && handle != Tpm2.RH_ENDORSEMENT && handle != Tpm2.RH_PLATFORM && handle != Tpm2.RH_NULL) {
            throw new TpmException(Tpm2.handleError(Tpm2.RC_HIERARCHY, 1));
        }
        return EMPTY;
    }

    private void startup() throws TpmException {
        int type = in.u16();
        if (type != Tpm2.SU_CLEAR) {
            // No state was saved by a TPM2_Shutdown(TPM_SU_STATE): a resume has nothing to resume.
            throw new TpmException(in.error(Tpm2.RC_VALUE));
        }
        if (in.remaining() != 0) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        pcrs.startup();
        Arrays.fill(objects, null);
        resetCount++;
        restartCount = 0;
        clockBase = System.nanoTime();
        started = true;
    }

    private void pcrExtend(int pcr, int locality) throws TpmException {
        int count = in.u32();
        if (count > 1) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        int digestAt = -1;
        if (count == 1) {
            int alg = in.u16();
            if (alg != Tpm2.ALG_SHA256) {
                throw new TpmException(in.error(Tpm2.RC_HASH));
            }
            digestAt = in.position();
            in.skip(Pcrs.DIGEST_BYTES);
        }
        if (!Pcrs.mayExtend(pcr, locality)) {
            throw new TpmException(Tpm2.RC_LOCALITY);
        }
        if (digestAt >= 0) {
            pcrs.extend(pcr, in.array(), digestAt);
        }
    }

    private void pcrReset(int pcr, int locality) throws TpmException {
        if (!Pcrs.mayReset(pcr, locality)) {
            throw new TpmException(Tpm2.RC_LOCALITY);
        }
        pcrs.reset(pcr);
    }

    /** A {@code TPML_PCR_SELECTION} of at most one SHA-256 bank: the selected PCRs as a bit mask. */
    private int pcrSelection() throws TpmException {
        int count = in.u32();
        if (count > 1) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        if (count == 0) {
            return 0;
        }
        int alg = in.u16();
        if (alg != Tpm2.ALG_SHA256) {
            throw new TpmException(in.error(Tpm2.RC_HASH));
        }
        int sizeofSelect = in.u8();
        if (sizeofSelect < 3 || sizeofSelect > 4) {
            throw new TpmException(in.error(Tpm2.RC_VALUE));
        }
        int mask = 0;
        for (int i = 0; i < sizeofSelect; i++) {
            int b = in.u8();
            if (i == 3 && b != 0) {
                throw new TpmException(in.error(Tpm2.RC_VALUE));
            }
            mask |= b << 8 * i;
        }
        return mask | 1 << 31;
    }

    private void putSelection(int selection) throws TpmException {
        if (selection == 0) {
            out.put32(0);
            return;
        }
        out.putSha256Selection(selection);
    }

    private void pcrRead() throws TpmException {
        int selection = pcrSelection();
        out.put32(pcrs.updateCounter());
        // At most eight digests a response (TPML_DIGEST); the selection out says which were returned.
        int returned = 0;
        int n = 0;
        for (int i = 0; i < Pcrs.COUNT && n < 8; i++) {
            if ((selection & 1 << i) != 0) {
                returned |= 1 << i;
                n++;
            }
        }
        putSelection(selection == 0 ? 0 : returned | 1 << 31);
        out.put32(n);
        for (int i = 0; i < Pcrs.COUNT; i++) {
            if ((returned & 1 << i) != 0) {
                out.put16(Pcrs.DIGEST_BYTES);
                pcrs.copyValue(i, out.array(), out.position());
                out.skipWritten(Pcrs.DIGEST_BYTES);
            }
        }
    }

    private void getRandom() throws TpmException {
        int requested = Math.min(in.u16(), Pcrs.DIGEST_BYTES);
        random.nextBytes(randomBytes);
        out.put2b(randomBytes, 0, requested);
    }

    private void flushContext() throws TpmException {
        int handle = in.u32();
        for (int i = 0; i < OBJECT_SLOTS; i++) {
            if (objects[i] != null && objects[i].handle == handle) {
                objects[i] = null;
                return;
            }
        }
        throw new TpmException(in.error(Tpm2.RC_HANDLE));
    }

    private Key find(int handle) {
        for (Key k : objects) {
            if (k != null && k.handle == handle) {
                return k;
            }
        }
        return null;
    }

    private byte[] seed(int hierarchy) {
        switch (hierarchy) {
            case Tpm2.RH_ENDORSEMENT:
                return endorsementSeed;
            case Tpm2.RH_PLATFORM:
                return platformSeed;
            case Tpm2.RH_NULL:
                // The null hierarchy's seed changes at every reset (its keys are ephemeral).
                return nullSeed();
            default:
                return ownerSeed;
        }
    }

    private byte[] nullSeed() {
        sha256.update(proof);
        sha256.update(new byte[] {(byte) (resetCount >>> 24), (byte) (resetCount >>> 16), (byte) (resetCount >>> 8), (byte) resetCount});
        return sha256.digest();
    }

    private void createPrimary(int hierarchy, int locality, byte[] response) throws TpmException, GeneralSecurityException {
        int slot = -1;
        for (int i = 0; i < OBJECT_SLOTS && slot < 0; i++) {
            if (objects[i] == null) {
                slot = i;
            }
        }
        // TPM2B_SENSITIVE_CREATE: the key's auth value, and no sensitive data (the TPM makes the key).
        int sensitiveSize = in.u16();
        int sensitiveEnd = in.position() + sensitiveSize;
        int authSize = in.tpm2b(Pcrs.DIGEST_BYTES);
        byte[] userAuth = Arrays.copyOfRange(in.array(), in.position() - authSize, in.position());
        if (in.tpm2b(0) != 0 || in.position() != sensitiveEnd) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        in.parameter(2);
        int publicSize = in.u16();
        int publicStart = in.position();
        int type = in.u16();
        if (type != Tpm2.ALG_ECC) {
            throw new TpmException(in.error(Tpm2.RC_TYPE));
        }
        if (in.u16() != Tpm2.ALG_SHA256) {
            throw new TpmException(in.error(Tpm2.RC_HASH));
        }
        int attributes = in.u32();
        boolean restricted = (attributes & Tpm2.OA_RESTRICTED) != 0;
        if ((attributes & Tpm2.OA_SIGN) == 0 || (attributes & Tpm2.OA_DECRYPT) != 0
            || (attributes & Tpm2.OA_SENSITIVE_DATA_ORIGIN) == 0) {
            // Only signing keys the TPM generates itself.
            throw new TpmException(in.error(Tpm2.RC_ATTRIBUTES));
        }
        int policySize = in.tpm2b(Pcrs.DIGEST_BYTES);
        if (policySize != 0) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        if (in.u16() != Tpm2.ALG_NULL) {
            throw new TpmException(in.error(Tpm2.RC_SYMMETRIC));
        }
        int scheme = in.u16();
        if (scheme == Tpm2.ALG_ECDSA) {
            if (in.u16() != Tpm2.ALG_SHA256) {
                throw new TpmException(in.error(Tpm2.RC_HASH));
            }
        } else if (scheme != Tpm2.ALG_NULL || restricted) {
            throw new TpmException(in.error(Tpm2.RC_SCHEME));
        }
        if (in.u16() != Tpm2.ECC_NIST_P256) {
            throw new TpmException(in.error(Tpm2.RC_CURVE));
        }
        if (in.u16() != Tpm2.ALG_NULL) {
            throw new TpmException(in.error(Tpm2.RC_KDF));
        }
        in.tpm2b(32);
        in.tpm2b(32);
        if (in.position() - publicStart != publicSize) {
            throw new TpmException(in.error(Tpm2.RC_SIZE));
        }
        int templateEnd = in.position();
        in.parameter(3);
        int outsideSize = in.tpm2b(MAX_DATA);
        int outsideAt = in.position() - outsideSize;
        in.parameter(4);
        int creationSelection = pcrSelection();
        if (slot < 0) {
            throw new TpmException(Tpm2.RC_OBJECT_MEMORY);
        }

        // The key: the hierarchy's seed and the whole template decide it.
        byte[] template = Arrays.copyOfRange(in.array(), publicStart, templateEnd);
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), new DerivedRandom(seed(hierarchy), "hvbench primary".getBytes(), template));
        KeyPair pair = g.generateKeyPair();
        ECPublicKey pub = (ECPublicKey) pair.getPublic();

        // The public area as created: the template with the point filled in.
        TpmBuffer area = new TpmBuffer(scratch, 0, scratch.length);
        area.put16(Tpm2.ALG_ECC).put16(Tpm2.ALG_SHA256).put32(attributes).put16(0).put16(Tpm2.ALG_NULL).put16(scheme);
        if (scheme == Tpm2.ALG_ECDSA) {
            area.put16(Tpm2.ALG_SHA256);
        }
        area.put16(Tpm2.ECC_NIST_P256).put16(Tpm2.ALG_NULL);
        area.put2b(Ecc.coordinate(pub.getW().getAffineX())).put2b(Ecc.coordinate(pub.getW().getAffineY()));
        byte[] publicArea = Arrays.copyOf(scratch, area.position());
        byte[] name = name(publicArea);
        byte[] hierarchyName = new byte[4];
        TpmBuffer.putInt(hierarchyName, 0, hierarchy);
        byte[] qualifiedName = qualifiedName(hierarchyName, name);
        int handle = Tpm2.TRANSIENT_FIRST | nextHandle++ & 0x00FF_FFFF;
        objects[slot] = new Key(handle, hierarchy, pair, publicArea, name, qualifiedName, attributes,
            scheme == Tpm2.ALG_ECDSA ? Tpm2.ALG_SHA256 : Tpm2.ALG_NULL, userAuth);

        TpmBuffer.putInt(response, HEADER, handle);
        out.put2b(publicArea);
        // TPMS_CREATION_DATA, and its digest.
        int creationAt = out.position();
        out.put16(0);
        int dataStart = out.position();
        putSelection(creationSelection);
        out.put2b(digestOf(creationSelection));
        out.put8(1 << locality);
        out.put16(Tpm2.ALG_NULL);
        out.put2b(hierarchyName).put2b(hierarchyName);
        out.put2b(in.array(), outsideAt, outsideSize);
        int dataEnd = out.position();
        TpmBuffer.putShort(response, creationAt, dataEnd - dataStart);
        sha256.update(response, dataStart, dataEnd - dataStart);
        byte[] creationHash = sha256.digest();
        out.put2b(creationHash);
        // TPMT_TK_CREATION: an HMAC under the TPM's proof, so the TPM can tell it made this object.
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(proof, "HmacSHA256"));
        mac.update(new byte[] {(byte) (Tpm2.ST_CREATION >>> 8), (byte) Tpm2.ST_CREATION});
        mac.update(name);
        mac.update(creationHash);
        out.put16(Tpm2.ST_CREATION).put32(hierarchy).put2b(mac.doFinal());
        out.put2b(name);
    }

    /** The PCRs of {@code selection}, concatenated in index order, hashed (a quote's {@code pcrDigest}). */
    private byte[] digestOf(int selection) {
        for (int i = 0; i < Pcrs.COUNT; i++) {
            if ((selection & 1 << i) != 0) {
                sha256.update(pcrs.raw(i));
            }
        }
        return sha256.digest();
    }

    private byte[] name(byte[] publicArea) {
        byte[] n = new byte[2 + Pcrs.DIGEST_BYTES];
        TpmBuffer.putShort(n, 0, Tpm2.ALG_SHA256);
        System.arraycopy(sha256.digest(publicArea), 0, n, 2, Pcrs.DIGEST_BYTES);
        return n;
    }

    private byte[] qualifiedName(byte[] parentQualifiedName, byte[] name) {
        byte[] n = new byte[2 + Pcrs.DIGEST_BYTES];
        TpmBuffer.putShort(n, 0, Tpm2.ALG_SHA256);
        sha256.update(parentQualifiedName);
        sha256.update(name);
        System.arraycopy(sha256.digest(), 0, n, 2, Pcrs.DIGEST_BYTES);
        return n;
    }

    private void quote(Key key) throws TpmException, GeneralSecurityException {
        int nonceSize = in.tpm2b(MAX_DATA);
        int nonceAt = in.position() - nonceSize;
        in.parameter(2);
        int scheme = in.u16();
        int hash = Tpm2.ALG_NULL;
        if (scheme == Tpm2.ALG_ECDSA) {
            hash = in.u16();
            if (hash != Tpm2.ALG_SHA256) {
                throw new TpmException(in.error(Tpm2.RC_HASH));
            }
        } else if (scheme != Tpm2.ALG_NULL) {
            throw new TpmException(in.error(Tpm2.RC_SCHEME));
        }
        if (hash == Tpm2.ALG_NULL && key.scheme == Tpm2.ALG_NULL) {
            throw new TpmException(in.error(Tpm2.RC_SCHEME));
        }
        in.parameter(3);
        int selection = pcrSelection();
        if ((key.attributes & Tpm2.OA_SIGN) == 0) {
            throw new TpmException(Tpm2.handleError(Tpm2.RC_KEY, 1));
        }

        // TPMS_ATTEST, written in place as the TPM2B_ATTEST's contents.
        int sizeAt = out.position();
        out.put16(0);
        int start = out.position();
        out.put32(Tpm2.GENERATED_VALUE).put16(Tpm2.ST_ATTEST_QUOTE);
        out.put2b(key.qualifiedName);
        out.put2b(in.array(), nonceAt, nonceSize);
        out.put64(clockMillis()).put32(resetCount).put32(restartCount).put8(1);
        out.put64(FIRMWARE_VERSION);
        putSelection(selection);
        out.put2b(digestOf(selection));
        int end = out.position();
        TpmBuffer.putShort(out.array(), sizeAt, end - start);

        Signature ecdsa = Signature.getInstance("SHA256withECDSAinP1363Format");
        ecdsa.initSign(key.pair.getPrivate(), random);
        ecdsa.update(out.array(), start, end - start);
        byte[] rs = ecdsa.sign();
        out.put16(Tpm2.ALG_ECDSA).put16(Tpm2.ALG_SHA256);
        out.put2b(rs, 0, rs.length / 2).put2b(rs, rs.length / 2, rs.length / 2);
    }

    private long clockMillis() {
        return (System.nanoTime() - clockBase) / 1_000_000L;
    }
}
