package org.hvbench.core.sec;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Compiles a policy's text source. One directive per line; {@code #} starts a comment:
 *
 * <pre>
 * policy NAME                          the policy's name (once, first)
 * kind null|ste|chwall|chwall+ste      which checks it makes (once)
 * ste-types TYPE...                    Simple Type Enforcement types (up to 64 in all)
 * chwall-types TYPE...                 Chinese Wall types (up to 64 in all)
 * conflict TYPE TYPE...                a conflict-of-interest set of two or more Chinese Wall types
 * label NAME [ste TYPE...] [chwall TYPE...]
 *                                      a label and its types; a label may hold at most one type of
 *                                      each conflict set
 * </pre>
 *
 * Names are letters, digits, {@code _ . -}, up to 64 characters. Every mistake is a
 * {@link PolicyException} naming the line and what is wrong.
 */
public final class PolicyCompiler {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    private static final String DIRECTIVES = "policy, kind, ste-types, chwall-types, conflict, label";

    private PolicyCompiler() {
    }

    public static Policy compile(String source) throws PolicyException {
        String name = null;
        Policy.Kind kind = null;
        List<String> ste = new ArrayList<>();
        List<String> chwall = new ArrayList<>();
        List<Long> conflicts = new ArrayList<>();
        Map<String, Policy.Label> labels = new LinkedHashMap<>();
        String[] lines = source.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int line = i + 1;
            String text = lines[i];
            int hash = text.indexOf('#');
            if (hash >= 0) {
                text = text.substring(0, hash);
            }
            String[] w = text.trim().split("\\s+");
            if (w.length == 1 && w[0].isEmpty()) {
                continue;
            }
            switch (w[0]) {
                case "policy":
                    if (name != null) {
                        throw new PolicyException(line, "a second 'policy' line; a source holds one policy");
                    }
                    if (w.length != 2) {
                        throw new PolicyException(line, "'policy' takes one name");
                    }
                    name = checkName(line, w[1]);
                    break;
                case "kind":
                    requirePolicy(line, name);
                    if (kind != null) {
                        throw new PolicyException(line, "a second 'kind' line");
                    }
                    if (w.length != 2 || (kind = Policy.Kind.parse(w[1])) == null) {
                        throw new PolicyException(line, "kind '" + (w.length > 1 ? w[1] : "") + "' is unknown; use null, ste, chwall or chwall+ste");
                    }
                    break;
                case "ste-types":
                case "chwall-types": {
                    requirePolicy(line, name);
                    List<String> into = w[0].equals("ste-types") ? ste : chwall;
                    if (w.length < 2) {
                        throw new PolicyException(line, "'" + w[0] + "' needs at least one type");
                    }
                    for (int k = 1; k < w.length; k++) {
                        String t = checkName(line, w[k]);
                        if (into.contains(t)) {
                            throw new PolicyException(line, "type '" + t + "' is declared twice");
                        }
                        if (into.size() == Policy.MAX_TYPES) {
                            throw new PolicyException(line, "more than " + Policy.MAX_TYPES + " " + w[0]);
                        }
                        into.add(t);
                    }
                    break;
                }
                case "conflict": {
                    requirePolicy(line, name);
                    if (w.length < 3) {
                        throw new PolicyException(line, "a conflict set needs two or more Chinese Wall types");
                    }
                    long set = 0;
                    for (int k = 1; k < w.length; k++) {
                        set |= bit(line, chwall, w[k], "chwall-types");
                    }
                    if (Long.bitCount(set) < 2) {
                        throw new PolicyException(line, "a conflict set needs two or more different Chinese Wall types");
                    }
                    conflicts.add(set);
                    break;
                }
                case "label": {
                    requirePolicy(line, name);
                    if (w.length < 2) {
                        throw new PolicyException(line, "'label' needs a name");
                    }
                    String l = checkName(line, w[1]);
                    if (labels.containsKey(l)) {
                        throw new PolicyException(line, "label '" + l + "' is defined twice");
                    }
                    long steMask = 0;
                    long chwallMask = 0;
                    String section = null;
                    for (int k = 2; k < w.length; k++) {
                        if (w[k].equals("ste") || w[k].equals("chwall")) {
                            section = w[k];
                        } else if (section == null) {
                            throw new PolicyException(line, "label '" + l + "': say 'ste' or 'chwall' before its types ('" + w[k] + "')");
                        } else if (section.equals("ste")) {
                            steMask |= bit(line, ste, w[k], "ste-types");
                        } else {
                            chwallMask |= bit(line, chwall, w[k], "chwall-types");
                        }
                    }
                    for (long set : conflicts) {
                        if (Long.bitCount(chwallMask & set) > 1) {
                            throw new PolicyException(line, "label '" + l + "' holds two types of one conflict set: it could never run");
                        }
                    }
                    labels.put(l, new Policy.Label(l, steMask, chwallMask));
                    break;
                }
                default:
                    throw new PolicyException(line, "unknown directive '" + w[0] + "'; use " + DIRECTIVES);
            }
        }
        if (name == null) {
            throw new PolicyException(0, "no 'policy NAME' line");
        }
        if (kind == null) {
            throw new PolicyException(0, "no 'kind' line (null, ste, chwall or chwall+ste)");
        }
        long[] sets = conflicts.stream().mapToLong(Long::longValue).toArray();
        return new Policy(name, kind, ste, chwall, sets, labels, sha256(source.getBytes(StandardCharsets.UTF_8)));
    }

    private static void requirePolicy(int line, String name) throws PolicyException {
        if (name == null) {
            throw new PolicyException(line, "the source must begin with 'policy NAME'");
        }
    }

    private static String checkName(int line, String s) throws PolicyException {
        if (!NAME.matcher(s).matches()) {
            throw new PolicyException(line, "'" + s + "' is not a name: use letters, digits, _ . - (up to 64)");
        }
        return s;
    }

    private static long bit(int line, List<String> types, String t, String declaration) throws PolicyException {
        int i = types.indexOf(t);
        if (i < 0) {
            throw new PolicyException(line, "type '" + t + "' is not declared (declare it with " + declaration + " first)");
        }
        return 1L << i;
    }

    static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
