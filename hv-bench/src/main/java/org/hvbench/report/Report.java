package org.hvbench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Command line of the report tools.
 *
 * <pre>
 * table [--format markdown|json] FILE.json...
 *                      the placement table of ArchitectureBench results, then a table per other
 *                      benchmark (Markdown on standard output); with --format json, the placement
 *                      table alone as JSON, every row with its modelled ns per I/O by cost part
 * markdown --out REPORT.md [--charts DIR] RESULTS_DIR_OR_FILE.json...
 *                      results/REPORT.md: per JVM folder, the newest file of each profile, with
 *                      charts (see {@link MarkdownReport})
 * compare [--out FILE.md] [--chart FILE.png] [--title TEXT] A.json B.json...
 *                      one file per JVM: the same benchmarks side by side ({@link JvmComparison})
 * </pre>
 *
 * Exit status: 0, 1 when a file cannot be read, 2 for bad usage.
 */
public final class Report {
    private Report() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length > 0 && args[0].equals("markdown")) {
            return MarkdownReport.run(Arrays.copyOfRange(args, 1, args.length), out, err);
        }
        if (args.length > 0 && args[0].equals("compare")) {
            return JvmComparison.command(Arrays.copyOfRange(args, 1, args.length), out, err);
        }
        String format = "markdown";
        int first = 1;
        if (args.length > 2 && args[0].equals("table") && args[1].equals("--format")) {
            format = args[2];
            first = 3;
            if (!format.equals("markdown") && !format.equals("json")) {
                err.println("report: --format '" + format + "' is unknown; use markdown or json");
                return 2;
            }
        }
        if (args.length <= first || !args[0].equals("table")) {
            err.println("usage: Report table [--format markdown|json] FILE.json...");
            err.println("       Report markdown --out REPORT.md [--charts DIR] RESULTS_DIR_OR_FILE.json...");
            err.println("       " + JvmComparison.USAGE.substring("usage: ".length()));
            return 2;
        }
        List<JmhResult> results = new ArrayList<>();
        for (int i = first; i < args.length; i++) {
            Path file = Path.of(args[i]);
            if (!Files.isReadable(file)) {
                err.println("report: cannot read " + file);
                return 1;
            }
            try {
                results.addAll(JmhResult.read(file));
            } catch (IOException e) {
                err.println("report: " + e.getMessage());
                return 1;
            }
        }
        if (format.equals("json")) {
            out.print(PlacementTable.json(PlacementTable.build(results)));
            return 0;
        }
        Map<String, CovertReport.Summary> security = Map.of();
        try {
            Path covert = ResultFiles.newestCovert(Path.of(args[first]).toAbsolutePath().getParent());
            if (covert != null) {
                security = CovertReport.summaries(new ObjectMapper().readTree(covert.toFile()));
            }
        } catch (IOException e) {
            err.println("report: the covert result beside " + args[first] + " is unreadable, left out: " + e.getMessage());
        }
        out.print(PlacementTable.markdown(PlacementTable.build(results), security));
        out.print(ExecutorTable.markdown(ExecutorTable.build(results)));
        out.print(MacTable.markdown(MacTable.build(results)));
        out.print(OtherResults.markdown(results));
        return 0;
    }
}
