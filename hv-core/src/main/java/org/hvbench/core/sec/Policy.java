package org.hvbench.core.sec;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A compiled sHype policy (Perez, van Doorn and Sailer, section IV.A; Xen's ACM): labels, each a set
 * of Simple Type Enforcement types and a set of Chinese Wall types, and the Chinese Wall's
 * conflict-of-interest sets. Types are bits of a 64-bit mask. Immutable.
 *
 * <ul>
 * <li>STE: two domains may share (an event channel, a grant, a block device a back end serves) only if
 *     their STE type sets intersect.</li>
 * <li>Chinese Wall: a domain may not be created while a running domain holds another type of a
 *     conflict set that one of its own types is in.</li>
 * </ul>
 * The {@link Kind#NULL} policy permits everything.
 */
public final class Policy {
    /** Which checks a policy makes, as ACM composed them. */
    public enum Kind {
        NULL("null", false, false), STE("ste", true, false), CHWALL("chwall", false, true), CHWALL_STE("chwall+ste", true, true);

        private final String id;
        private final boolean ste;
        private final boolean chwall;

        Kind(String id, boolean ste, boolean chwall) {
            this.id = id;
            this.ste = ste;
            this.chwall = chwall;
        }

        public String id() {
            return id;
        }

        public boolean ste() {
            return ste;
        }

        public boolean chwall() {
            return chwall;
        }

        /** The bits of the binary header's kinds word. */
        int bits() {
            return (ste ? 1 : 0) | (chwall ? 2 : 0);
        }

        static Kind ofBits(int bits) {
            for (Kind k : values()) {
                if (k.bits() == bits) {
                    return k;
                }
            }
            return null;
        }

        /** @return the kind, or null when {@code id} names none */
        static Kind parse(String id) {
            for (Kind k : values()) {
                if (k.id.equals(id)) {
                    return k;
                }
            }
            return null;
        }
    }

    /** A label: its STE and Chinese Wall type masks. */
    public static final class Label {
        private final String name;
        private final long ste;
        private final long chwall;

        Label(String name, long ste, long chwall) {
            this.name = name;
            this.ste = ste;
            this.chwall = chwall;
        }

        public String name() {
            return name;
        }

        public long steTypes() {
            return ste;
        }

        public long chwallTypes() {
            return chwall;
        }
    }

    public static final int MAX_TYPES = 64;

    private final String name;
    private final Kind kind;
    private final List<String> steTypes;
    private final List<String> chwallTypes;
    private final long[] conflicts;
    private final Map<String, Label> labels;
    private final byte[] sourceSha256;

    Policy(String name, Kind kind, List<String> steTypes, List<String> chwallTypes, long[] conflicts, Map<String, Label> labels,
           byte[] sourceSha256) {
        this.name = name;
        this.kind = kind;
        this.steTypes = List.copyOf(steTypes);
        this.chwallTypes = List.copyOf(chwallTypes);
        this.conflicts = conflicts.clone();
        this.labels = Collections.unmodifiableMap(new LinkedHashMap<>(labels));
        this.sourceSha256 = sourceSha256.clone();
    }

    public String name() {
        return name;
    }

    public Kind kind() {
        return kind;
    }

    public List<String> steTypes() {
        return steTypes;
    }

    public List<String> chwallTypes() {
        return chwallTypes;
    }

    /** The conflict-of-interest sets, each a mask of Chinese Wall types. */
    public long[] conflictSets() {
        return conflicts.clone();
    }

    /** Labels by name, in source order. */
    public Map<String, Label> labels() {
        return labels;
    }

    /** The label named {@code name}, or null. */
    public Label label(String name) {
        return labels.get(name);
    }

    /** SHA-256 of the source the policy was compiled from. */
    public byte[] sourceSha256() {
        return sourceSha256.clone();
    }

    /** STE: may domains labelled {@code a} and {@code b} share a resource? */
    public boolean mayShare(Label a, Label b) {
        return !kind.ste() || (a.ste & b.ste) != 0;
    }

    /**
     * Chinese Wall: may a domain labelled {@code l} start while the running domains hold the Chinese
     * Wall types {@code running} (a mask of the types at least one running domain holds)?
     */
    public boolean mayRun(Label l, long running) {
        if (!kind.chwall()) {
            return true;
        }
        for (long set : conflicts) {
            long mine = l.chwall & set;
            if (mine != 0 && (running & set & ~mine) != 0) {
                return false;
            }
        }
        return true;
    }

    /** The Chinese Wall types of {@code running} that keep {@code l} from starting (for messages). */
    public List<String> conflictsWith(Label l, long running) {
        List<String> out = new ArrayList<>();
        for (long set : conflicts) {
            long mine = l.chwall & set;
            long other = mine == 0 ? 0 : running & set & ~mine;
            for (int t = 0; t < chwallTypes.size(); t++) {
                if ((other & (1L << t)) != 0 && !out.contains(chwallTypes.get(t))) {
                    out.add(chwallTypes.get(t));
                }
            }
        }
        return out;
    }
}
