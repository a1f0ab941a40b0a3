package org.hvbench.core.sec;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The compiled policy the Policy Manager hands the hypervisor, little-endian:
 *
 * <pre>
 * offset size
 *  0      4   magic "SHYP"
 *  4      2   version (1)
 *  6      2   kinds: 1 STE, 2 Chinese Wall (0: the null policy)
 *  8     32   SHA-256 of the source
 * 40      4   total length in bytes
 * 44          name; STE types; Chinese Wall types; conflict sets; labels
 * </pre>
 *
 * A name is a 16-bit length and that many UTF-8 bytes (1 to 64); a list is a 16-bit count and its
 * items; a conflict set is a 64-bit mask of Chinese Wall types; a label is its name, its STE mask and
 * its Chinese Wall mask (64 bits each). {@link #decode} checks everything a compiler would: it reads
 * memory the Policy Manager wrote, so nothing in it is trusted.
 */
public final class BinaryPolicy {
    public static final int MAGIC = 'S' | 'H' << 8 | 'Y' << 16 | 'P' << 24;
    public static final int VERSION = 1;
    public static final int HEADER_BYTES = 44;
    /** The most bytes a policy may take (the hypervisor reads it from one run of guest pages). */
    public static final int MAX_BYTES = 1 << 20;
    static final int MAX_LABELS = 1024;

    private BinaryPolicy() {
    }

    public static byte[] encode(Policy p) {
        List<byte[]> names = new ArrayList<>();
        int size = HEADER_BYTES + name(p.name(), names);
        size += 2;
        for (String t : p.steTypes()) {
            size += name(t, names);
        }
        size += 2;
        for (String t : p.chwallTypes()) {
            size += name(t, names);
        }
        size += 2 + 8 * p.conflictSets().length + 2;
        for (Policy.Label l : p.labels().values()) {
            size += name(l.name(), names) + 16;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putShort((short) VERSION).putShort((short) p.kind().bits()).put(p.sourceSha256()).putInt(size);
        int n = 0;
        putName(b, names.get(n++));
        b.putShort((short) p.steTypes().size());
        for (int i = 0; i < p.steTypes().size(); i++) {
            putName(b, names.get(n++));
        }
        b.putShort((short) p.chwallTypes().size());
        for (int i = 0; i < p.chwallTypes().size(); i++) {
            putName(b, names.get(n++));
        }
        b.putShort((short) p.conflictSets().length);
        for (long set : p.conflictSets()) {
            b.putLong(set);
        }
        b.putShort((short) p.labels().size());
        for (Policy.Label l : p.labels().values()) {
            putName(b, names.get(n++));
            b.putLong(l.steTypes()).putLong(l.chwallTypes());
        }
        return b.array();
    }

    /** @throws PolicyException saying which field is wrong (line 0: binaries have no lines) */
    public static Policy decode(ByteBuffer in) throws PolicyException {
        ByteBuffer b = in.slice().order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (b.remaining() < HEADER_BYTES) {
                throw bad("shorter than its " + HEADER_BYTES + "-byte header");
            }
            if (b.getInt() != MAGIC) {
                throw bad("bad magic (not an sHype policy)");
            }
            int version = b.getShort() & 0xFFFF;
            if (version != VERSION) {
                throw bad("version " + version + " is not " + VERSION);
            }
            Policy.Kind kind = Policy.Kind.ofBits(b.getShort() & 0xFFFF);
            if (kind == null) {
                throw bad("unknown policy kinds");
            }
            byte[] sha = new byte[32];
            b.get(sha);
            int length = b.getInt();
            if (length != b.limit() || length > MAX_BYTES) {
                throw bad("length field " + length + " is not the policy's " + b.limit() + " bytes (at most " + MAX_BYTES + ")");
            }
            String name = getName(b);
            List<String> ste = names(b, "STE types");
            List<String> chwall = names(b, "Chinese Wall types");
            int nConflicts = b.getShort() & 0xFFFF;
            if (nConflicts > Policy.MAX_TYPES) {
                throw bad(nConflicts + " conflict sets");
            }
            long chwallAll = mask(chwall.size());
            long[] conflicts = new long[nConflicts];
            for (int i = 0; i < nConflicts; i++) {
                long set = b.getLong();
                if ((set & ~chwallAll) != 0 || Long.bitCount(set) < 2) {
                    throw bad("conflict set " + i + " names undeclared types or fewer than two");
                }
                conflicts[i] = set;
            }
            int nLabels = b.getShort() & 0xFFFF;
            if (nLabels > MAX_LABELS) {
                throw bad(nLabels + " labels (at most " + MAX_LABELS + ")");
            }
            long steAll = mask(ste.size());
            Map<String, Policy.Label> labels = new LinkedHashMap<>();
            for (int i = 0; i < nLabels; i++) {
                String l = getName(b);
                long steMask = b.getLong();
                long chwallMask = b.getLong();
                if ((steMask & ~steAll) != 0 || (chwallMask & ~chwallAll) != 0) {
                    throw bad("label '" + l + "' holds undeclared types");
                }
                for (long set : conflicts) {
                    if (Long.bitCount(chwallMask & set) > 1) {
                        throw bad("label '" + l + "' holds two types of one conflict set");
                    }
                }
                if (labels.put(l, new Policy.Label(l, steMask, chwallMask)) != null) {
                    throw bad("label '" + l + "' twice");
                }
            }
            if (b.hasRemaining()) {
                throw bad(b.remaining() + " bytes after the last label");
            }
            return new Policy(name, kind, ste, chwall, conflicts, labels, sha);
        } catch (BufferUnderflowException e) {
            throw bad("ends inside a field");
        }
    }

    private static long mask(int types) {
        return types == 64 ? -1L : (1L << types) - 1;
    }

    private static List<String> names(ByteBuffer b, String what) throws PolicyException {
        int n = b.getShort() & 0xFFFF;
        if (n > Policy.MAX_TYPES) {
            throw bad(n + " " + what + " (at most " + Policy.MAX_TYPES + ")");
        }
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String t = getName(b);
            if (out.contains(t)) {
                throw bad(what + ": '" + t + "' twice");
            }
            out.add(t);
        }
        return out;
    }

    private static String getName(ByteBuffer b) throws PolicyException {
        int n = b.getShort() & 0xFFFF;
        if (n < 1 || n > 64) {
            throw bad("a name of " + n + " bytes (1 to 64)");
        }
        byte[] bytes = new byte[n];
        b.get(bytes);
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            if (!s.matches("[A-Za-z0-9_.-]+")) {
                throw bad("'" + s + "' is not a name");
            }
            return s;
        } catch (CharacterCodingException e) {
            throw bad("a name that is not UTF-8");
        }
    }

    private static int name(String s, List<byte[]> into) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        into.add(bytes);
        return 2 + bytes.length;
    }

    private static void putName(ByteBuffer b, byte[] name) {
        b.putShort((short) name.length).put(name);
    }

    private static PolicyException bad(String what) {
        return new PolicyException(0, "binary policy: " + what);
    }
}
