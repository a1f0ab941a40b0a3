package org.hvbench.core.tpm;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A measured boot's event log in the TCG's crypto-agile format (<i>TCG PC Client Platform Firmware
 * Profile</i>, section 10): what was measured into which PCR, so that a verifier can replay the log
 * and compare the result with the PCRs a quote vouches for. The log starts with the SHA-1-format
 * {@code TCG_PCClientPCREvent} of type {@code EV_NO_ACTION} carrying the {@code TCG_EfiSpecIDEvent}
 * ("Spec ID Event03", one algorithm: SHA-256); each measurement after it is a
 * {@code TCG_PCR_EVENT2}: PCR index, event type, a {@code TPML_DIGEST_VALUES} and the event data.
 * Unlike the TPM's commands, the log is little-endian, as firmware writes it.
 */
public final class EventLog {
    public static final int EV_POST_CODE = 0x1;
    public static final int EV_NO_ACTION = 0x3;
    public static final int EV_SEPARATOR = 0x4;
    public static final int EV_IPL = 0xD;
    static final byte[] SPEC_ID = "Spec ID Event03\0".getBytes(StandardCharsets.US_ASCII);

    /** One measurement: into {@code pcr}, of type {@code type}, with the SHA-256 {@code digest} of what was measured. */
    public record Event(int pcr, int type, byte[] digest, byte[] data) {
        public Event {
            if (pcr < 0 || pcr >= Pcrs.COUNT || digest.length != Pcrs.DIGEST_BYTES) {
                throw new IllegalArgumentException("event log: PCR " + pcr + ", digest of " + digest.length + " bytes");
            }
            digest = digest.clone();
            data = data.clone();
        }

        @Override
        public byte[] digest() {
            return digest.clone();
        }

        @Override
        public byte[] data() {
            return data.clone();
        }

        public String description() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    private final List<Event> events = new ArrayList<>();

    public void add(Event e) {
        events.add(e);
    }

    public List<Event> events() {
        return Collections.unmodifiableList(events);
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** The PCR values the log's measurements give from a startup's (PCRs 17-22 all ones, the rest zero). */
    public byte[][] replay() {
        byte[][] pcr = new byte[Pcrs.COUNT][Pcrs.DIGEST_BYTES];
        for (int i = Pcrs.DRTM_FIRST; i <= Pcrs.DRTM_LAST; i++) {
            Arrays.fill(pcr[i], (byte) 0xFF);
        }
        MessageDigest h = sha256();
        for (Event e : events) {
            if (e.type() == EV_NO_ACTION) {
                continue;
            }
            h.update(pcr[e.pcr()]);
            h.update(e.digest);
            pcr[e.pcr()] = h.digest();
        }
        return pcr;
    }

    /** The log as firmware hands it to the OS (and as {@code tpm2_eventlog} reads it). */
    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // TCG_EfiSpecIDEvent: signature, platform class 0 (client), spec 2.0 errata 0, uintnSize 2
        // (64-bit UINTN), one algorithm (SHA-256, 32 bytes), no vendor information.
        ByteBuffer spec = le(16 + 4 + 4 + 4 + 4 + 1);
        spec.put(SPEC_ID).putInt(0).put((byte) 0).put((byte) 2).put((byte) 0).put((byte) 2).putInt(1)
            .putShort((short) Tpm2.ALG_SHA256).putShort((short) Pcrs.DIGEST_BYTES).put((byte) 0);
        ByteBuffer head = le(4 + 4 + 20 + 4);
        head.putInt(0).putInt(EV_NO_ACTION).put(new byte[20]).putInt(spec.capacity());
        out.writeBytes(head.array());
        out.writeBytes(spec.array());
        for (Event e : events) {
            ByteBuffer b = le(4 + 4 + 4 + 2 + Pcrs.DIGEST_BYTES + 4);
            b.putInt(e.pcr()).putInt(e.type()).putInt(1).putShort((short) Tpm2.ALG_SHA256).put(e.digest).putInt(e.data.length);
            out.writeBytes(b.array());
            out.writeBytes(e.data);
        }
        return out.toByteArray();
    }

    private static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Reads a log {@link #encode} wrote (or firmware did, with SHA-256 among its algorithms).
     *
     * @throws IllegalArgumentException naming the offset and what is wrong there
     */
    public static EventLog decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        EventLog log = new EventLog();
        try {
            if (b.getInt() != 0 || b.getInt() != EV_NO_ACTION) {
                throw bad(0, "the first event is not the EV_NO_ACTION spec ID event");
            }
            b.position(b.position() + 20);
            int specSize = b.getInt();
            int specAt = b.position();
            byte[] sig = new byte[16];
            b.get(sig);
            if (!Arrays.equals(sig, SPEC_ID)) {
                throw bad(specAt, "no \"Spec ID Event03\" signature: not a crypto-agile log");
            }
            b.position(specAt + 24);
            int algorithms = b.getInt();
            int[] sizes = new int[0x10000];
            Arrays.fill(sizes, -1);
            for (int i = 0; i < algorithms; i++) {
                int alg = b.getShort() & 0xFFFF;
                sizes[alg] = b.getShort() & 0xFFFF;
            }
            if (sizes[Tpm2.ALG_SHA256] != Pcrs.DIGEST_BYTES) {
                throw bad(specAt, "the log has no SHA-256 bank");
            }
            b.position(specAt + specSize);
            while (b.hasRemaining()) {
                int at = b.position();
                int pcr = b.getInt();
                int type = b.getInt();
                int count = b.getInt();
                byte[] digest = null;
                for (int i = 0; i < count; i++) {
                    int alg = b.getShort() & 0xFFFF;
                    if (sizes[alg] < 0) {
                        throw bad(at, "a digest of algorithm 0x" + Integer.toHexString(alg) + " the header does not list");
                    }
                    byte[] d = new byte[sizes[alg]];
                    b.get(d);
                    if (alg == Tpm2.ALG_SHA256) {
                        digest = d;
                    }
                }
                int size = b.getInt();
                if (size < 0 || size > b.remaining()) {
                    throw bad(at, "event data of " + size + " bytes past the end");
                }
                byte[] data = new byte[size];
                b.get(data);
                if (digest == null) {
                    throw bad(at, "an event without a SHA-256 digest");
                }
                if (pcr < 0 || pcr >= Pcrs.COUNT) {
                    throw bad(at, "PCR " + pcr);
                }
                log.add(new Event(pcr, type, digest, data));
            }
        } catch (java.nio.BufferUnderflowException | IllegalArgumentException e) {
            if (e instanceof IllegalArgumentException && e.getMessage() != null && e.getMessage().startsWith("event log")) {
                throw (IllegalArgumentException) e;
            }
            throw bad(b.position(), "the log ends inside an event");
        }
        return log;
    }

    private static IllegalArgumentException bad(int offset, String what) {
        return new IllegalArgumentException("event log at byte " + offset + ": " + what);
    }
}
