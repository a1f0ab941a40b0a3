package org.hvbench.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.hvbench.core.arch.CustomerScenario;
import org.hvbench.core.sec.BinaryPolicy;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;

/**
 * {@code scripts/policy.sh}: sHype policies from the command line.
 *
 * <pre>
 * policy.sh compile SOURCE [-o FILE]   compile a source to its binary form (default: SOURCE with .bin)
 * policy.sh show FILE                  print a source's or a binary's policy: kinds, types, conflict sets, labels
 * policy.sh check SOURCE|FILE          compile or decode, and say whether it is valid
 * </pre>
 *
 * A file that starts with the binary magic is read as a binary, anything else as a source. Exit
 * status 0, 1 for an invalid policy or a file that cannot be read or written (the message names the
 * line, for a source), 2 for bad usage.
 */
public final class PolicyTool {
    private static final String USAGE = String.join("\n",
        "usage: policy.sh compile SOURCE [-o FILE]   compile to the binary form (default SOURCE with .bin)",
        "       policy.sh show SOURCE|FILE           print the policy: kinds, types, conflict sets, labels",
        "       policy.sh check SOURCE|FILE          say whether it is a valid policy",
        "       policy.sh scenario                   three customers on one I/O partition: what sHype allows, denies, revokes");

    private PolicyTool() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 1 && (args[0].equals("-h") || args[0].equals("--help"))) {
            out.println(USAGE);
            return 0;
        }
        if (args.length == 1 && args[0].equals("scenario")) {
            return scenario(out);
        }
        if (args.length < 2 || !List.of("compile", "show", "check").contains(args[0])
            || args[0].equals("compile") && !(args.length == 2 || args.length == 4 && args[2].equals("-o"))
            || !args[0].equals("compile") && args.length != 2) {
            err.println(USAGE);
            return 2;
        }
        Path file = Paths.get(args[1]);
        Policy p;
        try {
            p = read(file);
        } catch (IOException e) {
            err.println("policy: cannot read " + file + ": " + e.getMessage());
            return 1;
        } catch (PolicyException e) {
            err.println("policy: " + file + ": " + e.getMessage());
            return 1;
        }
        switch (args[0]) {
            case "compile": {
                Path to = args.length == 4 ? Paths.get(args[3]) : Paths.get(file.toString().replaceFirst("(\\.[^./]*)?$", ".bin"));
                try {
                    Files.write(to, BinaryPolicy.encode(p));
                } catch (IOException e) {
                    err.println("policy: cannot write " + to + ": " + e.getMessage());
                    return 1;
                }
                out.println(to + ": policy " + p.name() + " (" + p.kind().id() + "), " + p.labels().size() + " labels, "
                    + BinaryPolicy.encode(p).length + " bytes");
                return 0;
            }
            case "check":
                out.println(file + ": valid policy " + p.name() + " (" + p.kind().id() + ")");
                return 0;
            default:
                out.print(show(p));
                return 0;
        }
    }

    /** Runs {@link CustomerScenario}: its policies, then each step; 1 when a step did not do what sHype should. */
    static int scenario(PrintStream out) {
        out.println("The hosting policy (dom0 loads it, then two changes to it):");
        out.println();
        out.println("    " + CustomerScenario.HOSTING.strip().replace("\n", "\n    "));
        out.println();
        out.println("hosting-without-c: the partition's label loses type C; hosting-a-c-compete: adds 'conflict A C'.");
        out.println();
        List<CustomerScenario.Step> steps = CustomerScenario.run();
        out.print(CustomerScenario.table(steps));
        long wrong = steps.stream().filter(s -> !s.asExpected()).count();
        out.println();
        out.println(wrong == 0 ? "every step did what sHype should" : wrong + " steps did not do what sHype should");
        return wrong == 0 ? 0 : 1;
    }

    static Policy read(Path file) throws IOException, PolicyException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (bytes.length >= 4 && b.getInt(0) == BinaryPolicy.MAGIC) {
            return BinaryPolicy.decode(ByteBuffer.wrap(bytes));
        }
        return PolicyCompiler.compile(new String(bytes, StandardCharsets.UTF_8));
    }

    static String show(Policy p) {
        StringBuilder b = new StringBuilder();
        b.append("policy ").append(p.name()).append('\n');
        b.append("kind ").append(p.kind().id()).append('\n');
        b.append("source sha-256 ").append(HexFormat.of().formatHex(p.sourceSha256())).append('\n');
        b.append("ste-types ").append(String.join(" ", p.steTypes())).append('\n');
        b.append("chwall-types ").append(String.join(" ", p.chwallTypes())).append('\n');
        for (long set : p.conflictSets()) {
            b.append("conflict ").append(String.join(" ", names(p.chwallTypes(), set))).append('\n');
        }
        for (Policy.Label l : p.labels().values()) {
            b.append("label ").append(l.name());
            List<String> ste = names(p.steTypes(), l.steTypes());
            List<String> chwall = names(p.chwallTypes(), l.chwallTypes());
            if (!ste.isEmpty()) {
                b.append(" ste ").append(String.join(" ", ste));
            }
            if (!chwall.isEmpty()) {
                b.append(" chwall ").append(String.join(" ", chwall));
            }
            b.append('\n');
        }
        return b.toString();
    }

    private static List<String> names(List<String> types, long mask) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < types.size(); i++) {
            if ((mask & (1L << i)) != 0) {
                out.add(types.get(i));
            }
        }
        return out;
    }
}
