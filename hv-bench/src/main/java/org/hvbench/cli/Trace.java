package org.hvbench.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.hvbench.core.arch.IoPath;
import org.hvbench.core.arch.Placement;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;

/**
 * Prints the crossings of one batch of asynchronous I/O through a placement, as the numbered list of
 * context switches that Karger and Safford draw (figures 4 to 7): text, JSON, or an SVG sequence
 * diagram with one lane per context.
 *
 * <pre>
 * scripts/trace.sh PLACEMENT|all [--depth N] [--format text|json|svg] [--operation read|write]
 *                                [--size BYTES] [--cost-profile NAME] [--tlb-tagged] [--iommu MODE]
 *                                [--out DIR]
 * </pre>
 *
 * With {@code --out} each placement's trace goes to {@code DIR/<placement>-depth<N>.<format>}
 * instead of standard output; {@code all} traces every placement and needs {@code --out}.
 *
 * Exit status: 0, 1 when a file cannot be written, or 2 for a bad argument (an unknown placement
 * prints the known ones).
 */
public final class Trace {
    private static final String ALL = "all";
    private static final String USAGE = String.join("\n",
        "usage: trace.sh PLACEMENT|all [options]",
        "  PLACEMENT            one of: " + String.join(", ", Placement.ids()),
        "  all                  every placement (needs --out)",
        "  --depth N            I/Os submitted together in one batch, 1 to " + Aio.MAX_DEPTH + " (default 1)",
        "  --format F           text (default), json, or svg",
        "  --operation OP       read (default) or write",
        "  --size BYTES         bytes per I/O, whole 512-byte sectors up to " + Aio.MAX_IO_BYTES + " (default 4096)",
        "  --cost-profile NAME  none, paper-era, current-x86 (default), or a .properties file",
        "  --tlb-tagged         TLB entries survive address-space switches (default: untagged)",
        "  --iommu MODE         system (default: the IOMMU the placement's real system has), on, off, exclusion",
        "  --out DIR            write DIR/<placement>-depth<N>.<format> instead of standard output");

    private Trace() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the CLI; returns the exit status. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("trace: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        if (options.help) {
            out.println(USAGE);
            return 0;
        }
        List<String> placements = options.placement.equals(ALL) ? Placement.ids() : List.of(options.placement);
        for (String placement : placements) {
            options.placement = placement;
            Result result;
            try {
                result = trace(options);
            } catch (IllegalArgumentException e) {
                err.println("trace: " + e.getMessage());
                return 2;
            }
            String rendered = render(result, options.format);
            if (options.out == null) {
                out.print(rendered);
                continue;
            }
            Path file = options.out.resolve(placement + "-depth" + options.depth + "." + options.format);
            try {
                Files.createDirectories(options.out);
                Files.writeString(file, rendered, StandardCharsets.UTF_8);
            } catch (IOException e) {
                err.println("trace: cannot write " + file + ": " + e.getMessage());
                return 1;
            }
            out.println(file);
        }
        return 0;
    }

    private static String render(Result result, String format) {
        switch (format) {
            case "json":
                return result.json() + System.lineSeparator();
            case "svg":
                return SequenceDiagram.render(result);
            default:
                return result.text();
        }
    }

    /** One crossing of the trace. */
    record Step(int step, String kind, String from, String to, String what) {
    }

    /** A traced batch. */
    record Result(Placement placement, String operation, int size, int depth, List<Step> steps, long total,
                  long idleSwitches, long tlbMisses, double modelledNs, String costProfile) {

        String text() {
            StringBuilder b = new StringBuilder();
            b.append(placement.id()).append(": ").append(placement.description()).append('\n');
            String what = depth == 1
                ? String.format(Locale.ROOT, "one asynchronous %d-byte %s at queue depth 1", size, operation)
                : String.format(Locale.ROOT, "%d asynchronous %d-byte %ss submitted together (queue depth %d)", depth, size,
                    operation, depth);
            b.append(what).append(String.format(Locale.ROOT, "; Karger & Safford (2008) %s counts %d context switches"
                + " %s%n%n", placement.paperFigure(), placement.paperCrossings(), placement.paperUnit()));
            int fromWidth = 4;
            int toWidth = 2;
            for (Step s : steps) {
                fromWidth = Math.max(fromWidth, s.from().length());
                toWidth = Math.max(toWidth, s.to().length());
            }
            for (Step s : steps) {
                b.append(String.format(Locale.ROOT, "%3d  %-12s %-" + fromWidth + "s -> %-" + toWidth + "s  %s%n",
                    s.step(), s.kind(), s.from(), s.to(), s.what()));
            }
            b.append(String.format(Locale.ROOT, "%n%d crossings (%.2f per I/O; the paper: %d %s), %d idle switches,"
                + " %d TLB misses; modelled %.0f ns (%.0f ns per I/O) with cost profile %s%n", total, (double) total / depth,
                placement.paperCrossings(), placement.paperUnit(), idleSwitches, tlbMisses, modelledNs, modelledNs / depth,
                costProfile));
            return b.toString();
        }

        String json() {
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("placement", placement.id());
            root.put("depth", depth);
            root.put("operation", operation);
            root.put("size", size);
            root.put("crossings", steps);
            root.put("total", total);
            root.put("idleSwitches", idleSwitches);
            root.put("paperCrossings", placement.paperCrossings());
            root.put("tlbMisses", tlbMisses);
            root.put("modelledNs", Math.round(modelledNs * 10) / 10.0);
            root.put("costProfile", costProfile);
            try {
                return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalStateException("cannot write the trace as JSON", e);
            }
        }
    }

    static Result trace(Options o) {
        Placement placement = Placement.parse(o.placement);
        MachineConfig config = MachineConfig.defaults().memory(64L << 20).costProfile(o.costProfile).tlbTagged(o.tlbTagged)
            .iommu(o.iommu);
        try (IoPath path = placement.open(config, o.depth)) {
            App app = path.app();
            int opcode = "write".equals(o.operation) ? Aio.PWRITE : Aio.PREAD;
            for (int i = 0; i < o.depth; i++) {
                long buffer = app.allocateBuffer(o.size);
                app.prepare(path.cpu(), i, opcode, (long) i * ((o.size + 4095) & ~4095), buffer, o.size, i);
            }
            InlineExecutor executor = new InlineExecutor(path);
            executor.runBatch(o.depth);
            CrossingTrace trace = path.trace();
            trace.reset();
            long misses = path.cpu().tlb().misses();
            long picos = path.modelledPicos();
            trace.startRecording();
            executor.runBatch(o.depth);
            trace.stopRecording();
            for (int i = 0; i < o.depth; i++) {
                if (app.result(i) != o.size) {
                    throw new IllegalStateException(placement + ": I/O " + i + " returned " + app.result(i));
                }
            }
            List<Step> steps = new ArrayList<>();
            for (int i = 0; i < trace.size(); i++) {
                steps.add(new Step(i + 1, trace.kind(i).name(), trace.from(i).name(), trace.to(i).name(), trace.what(i)));
            }
            return new Result(placement, o.operation, o.size, o.depth, steps, trace.total(), trace.idleSwitches(),
                path.cpu().tlb().misses() - misses, (path.modelledPicos() - picos) / 1000.0, path.machine().profile().name());
        }
    }

    /** Command-line options, checked. */
    static final class Options {
        String placement;
        int depth = 1;
        String format = "text";
        String operation = "read";
        int size = 4096;
        String costProfile = "current-x86";
        boolean tlbTagged;
        String iommu = MachineConfig.IOMMU_SYSTEM;
        boolean help;
        Path out;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "-h":
                    case "--help":
                        o.help = true;
                        return o;
                    case "--depth":
                        o.depth = intValue(a, value(args, ++i, a), 1, Aio.MAX_DEPTH);
                        break;
                    case "--format":
                        o.format = oneOf(a, value(args, ++i, a), "text", "json", "svg");
                        break;
                    case "--operation":
                        o.operation = oneOf(a, value(args, ++i, a), "read", "write");
                        break;
                    case "--size":
                        o.size = intValue(a, value(args, ++i, a), 512, Aio.MAX_IO_BYTES);
                        if (o.size % 512 != 0) {
                            throw new IllegalArgumentException("--size: " + o.size + " is not whole 512-byte sectors");
                        }
                        break;
                    case "--cost-profile":
                        o.costProfile = value(args, ++i, a);
                        break;
                    case "--tlb-tagged":
                        o.tlbTagged = true;
                        break;
                    case "--iommu":
                        o.iommu = oneOf(a, value(args, ++i, a), MachineConfig.IOMMU_SYSTEM, "on", "off", "exclusion");
                        break;
                    case "--out":
                        o.out = Path.of(value(args, ++i, a));
                        break;
                    default:
                        if (a.startsWith("-")) {
                            throw new IllegalArgumentException("unknown option " + a);
                        }
                        if (o.placement != null) {
                            throw new IllegalArgumentException("one placement at a time; got " + o.placement + " and " + a);
                        }
                        o.placement = a;
                }
            }
            if (o.placement == null) {
                throw new IllegalArgumentException("no placement given; known placements: " + String.join(", ", Placement.ids())
                    + ", or all");
            }
            if (o.placement.equals(ALL) && o.out == null) {
                throw new IllegalArgumentException("all writes one file per placement: give --out DIR");
            }
            return o;
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static int intValue(String option, String text, int min, int max) {
            try {
                int v = Integer.parseInt(text);
                if (v < min || v > max) {
                    throw new NumberFormatException();
                }
                return v;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": '" + text + "' is not allowed; use a whole number from "
                    + min + " to " + max);
            }
        }

        private static String oneOf(String option, String text, String... allowed) {
            for (String s : allowed) {
                if (s.equals(text)) {
                    return s;
                }
            }
            throw new IllegalArgumentException(option + ": '" + text + "' is not allowed; use " + String.join(", ", allowed));
        }
    }

    /** Counts of a kind in a trace result, for tests. */
    static long count(Result r, Crossing kind) {
        return r.steps().stream().filter(s -> s.kind().equals(kind.name())).count();
    }
}
