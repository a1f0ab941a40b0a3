package org.hvbench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Command line of the report tools.
 *
 * <pre>
 * table FILE.json...   the placement table of ArchitectureBench results, then a table per other
 *                      benchmark (Markdown on standard output)
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
        if (args.length < 2 || !args[0].equals("table")) {
            err.println("usage: Report table FILE.json...");
            err.println("       Report markdown --out REPORT.md [--charts DIR] RESULTS_DIR_OR_FILE.json...");
            err.println("       " + JvmComparison.USAGE.substring("usage: ".length()));
            return 2;
        }
        List<JmhResult> results = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
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
        out.print(PlacementTable.markdown(PlacementTable.build(results)));
        out.print(ExecutorTable.markdown(ExecutorTable.build(results)));
        out.print(OtherResults.markdown(results));
        return 0;
    }
}
