package org.hvbench.report;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.hvbench.core.arch.Placement;

/**
 * {@code Report markdown}: a readable report of everything under {@code results/} — for each JVM
 * folder, the newest result file of each profile: the JVM and machine it ran on, the placement
 * tables, crossings per I/O against depth, the threaded and other benchmarks' tables, PNG charts,
 * and the published figures of the two papers beside ours. The report is written whole or not at
 * all (a temporary file, then a rename), and an unreadable result file is skipped and named, with
 * the next newest of its profile read instead.
 */
final class MarkdownReport {
    static final String USAGE = "usage: Report markdown --out REPORT.md [--charts DIR] RESULTS_DIR_OR_FILE.json...";

    private static final Pattern COMMIT = Pattern.compile("\\bcommit ([^,]+),");

    private MarkdownReport() {
    }

    /** The newest readable result file of one profile of one JVM, with its placement-table groups. */
    record Loaded(String jvm, String profile, Path file, List<JmhResult> results, List<PlacementTable.Group> groups,
                  RunFacts facts, String commit) {
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        Path outFile = null;
        Path chartsDir = null;
        List<Path> inputs = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--out") || a.equals("--charts")) {
                if (i + 1 == args.length) {
                    return usage(err, a + " needs a path");
                }
                Path p = Path.of(args[++i]);
                if (a.equals("--out")) {
                    outFile = p;
                } else {
                    chartsDir = p;
                }
            } else if (a.startsWith("--")) {
                return usage(err, "unknown option " + a + " (known: --out, --charts)");
            } else {
                inputs.add(Path.of(a));
            }
        }
        if (outFile == null || inputs.isEmpty()) {
            return usage(err, outFile == null ? "--out is required" : "no results directory or file given");
        }
        Path dir = folder(outFile);
        Path charts = chartsDir == null ? dir.resolve("charts") : chartsDir;
        List<ResultFiles.Profile> profiles;
        try {
            profiles = ResultFiles.find(inputs);
        } catch (IOException e) {
            err.println("report: " + e.getMessage());
            return 1;
        }
        List<String> skipped = new ArrayList<>();
        List<Loaded> loaded = load(profiles, skipped);
        skipped.forEach(s -> err.println("report: skipped " + s));
        if (loaded.isEmpty()) {
            err.println("report: no readable JMH results in " + inputs);
            return 1;
        }
        try {
            List<Path> drawn = new ArrayList<>();
            String md = render(loaded, skipped, dir, charts, drawn);
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, ".report", ".md.tmp");
            try {
                Files.writeString(tmp, md, StandardCharsets.UTF_8);
                Files.move(tmp, outFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
            out.println("report: wrote " + outFile + " from " + loaded.size() + " result files, and " + drawn.size()
                + " charts in " + charts);
        } catch (IOException e) {
            err.println("report: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    private static int usage(PrintStream err, String problem) {
        err.println("report markdown: " + problem);
        err.println(USAGE);
        return 2;
    }

    /** For each profile, its newest file that reads; each file that does not is added to {@code skipped}. */
    static List<Loaded> load(List<ResultFiles.Profile> profiles, List<String> skipped) {
        List<Loaded> out = new ArrayList<>();
        for (ResultFiles.Profile p : profiles) {
            for (Path f : p.newestFirst()) {
                try {
                    List<JmhResult> results = JmhResult.read(f);
                    if (results.isEmpty()) {
                        skipped.add(f + ": it holds no results");
                        continue;
                    }
                    out.add(new Loaded(p.jvm(), p.profile(), f, results, PlacementTable.build(results), RunFacts.read(f),
                        commit(f)));
                    break;
                } catch (IOException e) {
                    String m = Objects.toString(e.getMessage(), e.toString());
                    skipped.add(m.contains(f.toString()) ? m : f + ": " + m);
                }
            }
        }
        return out;
    }

    /**
     * The commit bench.sh wrote on the first line of the run's table ({@code .md}, which says
     * "(with local changes)" too) or log, or {@code null}.
     */
    private static String commit(Path results) {
        String base = results.getFileName().toString().replaceFirst("\\.json$", "");
        for (String ext : List.of(".md", ".log")) {
            Path f = results.resolveSibling(base + ext);
            if (!Files.isRegularFile(f)) {
                continue;
            }
            try (BufferedReader r = Files.newBufferedReader(f, StandardCharsets.UTF_8)) {
                String first = r.readLine();
                Matcher m = first == null ? null : COMMIT.matcher(first);
                if (m != null && m.find()) {
                    return m.group(1);
                }
            } catch (IOException | java.io.UncheckedIOException unreadable) {
                // The commit is a courtesy: without it the report still holds every number.
            }
        }
        return null;
    }

    /**
     * The groups of the setting a profile is mostly about, by depth: the setting (all but the depth)
     * with the most placement rows, preferring the inline executor, which is the paper's
     * uniprocessor. Empty when there are no placement results.
     */
    static List<PlacementTable.Group> mainSetting(List<PlacementTable.Group> groups) {
        Map<String, List<PlacementTable.Group>> bySetting = new LinkedHashMap<>();
        for (PlacementTable.Group g : groups) {
            bySetting.computeIfAbsent(setting(g), k -> new ArrayList<>()).add(g);
        }
        List<PlacementTable.Group> best = List.of();
        int bestScore = -1;
        for (List<PlacementTable.Group> gs : bySetting.values()) {
            int rows = gs.stream().mapToInt(g -> g.rows().size()).sum();
            int score = (gs.get(0).executor().equals("inline") ? 1 << 20 : 0) + rows;
            if (score > bestScore) {
                best = gs;
                bestScore = score;
            }
        }
        List<PlacementTable.Group> sorted = new ArrayList<>(best);
        sorted.sort(Comparator.comparingInt(PlacementTable.Group::depth));
        return sorted;
    }

    /** A group's setting without its depth, e.g. "read 4 KiB, TLB untagged, current-x86, grants persistent, IOMMU on (strict), inline". */
    static String setting(PlacementTable.Group g) {
        String iommu = PlacementTable.iommu(g);
        String executor = g.executor().startsWith("threaded") ? g.executor() + " (idle " + g.idle() + ")" : g.executor();
        return String.format(Locale.ROOT, "%s %s, TLB %s, %s, grants %s, IOMMU %s, %s", g.operation(), PlacementTable.size(g.size()),
            "true".equals(g.tlbTagged()) ? "tagged" : "untagged", g.costProfile(), g.grantMode(), iommu, executor);
    }

    static String render(List<Loaded> loaded, List<String> skipped, Path dir, Path charts, List<Path> drawn) throws IOException {
        Path root = repositoryRoot(dir);
        String costProfiles = link(dir, root, "docs/cost-profiles.md", "docs/cost-profiles.md");
        String readme = link(dir, root, "README.md#reading-the-table", "The README");
        StringBuilder b = new StringBuilder("# hvbench results\n\n");
        b.append("Generated by `org.hvbench.report.Report markdown`, which `scripts/bench.sh` runs after every run, from the")
            .append(" newest result file of each profile of each JVM. Do not edit: the next run rewrites it.\n\n")
            .append("- **Measured** columns (I/O per second, time × native) are what the named JVM did on the machine recorded")
            .append(" with the run. Errors are JMH's 99.9% confidence half-widths; a ratio carries both errors and is only")
            .append(" taken between results of one run.\n")
            .append("- **Modelled ns** are not measured: every CPU's virtual clock charges each crossing, TLB miss, page walk")
            .append(" and copied byte what the run's cost profile says (sources: ").append(costProfiles).append(").\n")
            .append("- **Crossings** are counted by the core's CPUs as the I/O runs; **paper** is the count Karger and Safford")
            .append(" draw for one I/O (figures 4 to 7). ").append(readme).append(" says how to read every column.\n\n");
        b.append("| JVM | profile | result file | commit |\n|---|---|---|---|\n");
        for (Loaded l : loaded) {
            b.append(String.format(Locale.ROOT, "| %s | `%s` | [%s](%s) | %s |%n", l.jvm(), l.profile(), l.file().getFileName(),
                relative(dir, l.file()), l.commit() == null ? "not recorded" : l.commit()));
        }
        if (!skipped.isEmpty()) {
            b.append("\nSkipped, unreadable:\n\n");
            skipped.forEach(s -> b.append("- ").append(s).append('\n'));
        }
        Map<String, List<Loaded>> byJvm = new LinkedHashMap<>();
        loaded.forEach(l -> byJvm.computeIfAbsent(l.jvm(), k -> new ArrayList<>()).add(l));
        b.append("\n## Published figures beside ours\n\n").append(PublishedFigures.markdown(byJvm, costProfiles));
        for (Map.Entry<String, List<Loaded>> e : byJvm.entrySet()) {
            jvm(b, e.getKey(), e.getValue(), dir, charts, drawn);
        }
        return b.toString();
    }

    private static void jvm(StringBuilder b, String jvm, List<Loaded> profiles, Path dir, Path charts, List<Path> drawn)
        throws IOException {
        RunFacts f = profiles.get(0).facts();
        b.append("\n## ").append(jvm.isEmpty() ? "(no JVM folder)" : jvm).append("\n\n| | |\n|---|---|\n")
            .append(String.format(Locale.ROOT, "| JVM | %s %s (JDK %s) |%n", f.vmName(), f.vmVersion(), f.jdkVersion()))
            .append("| java | `").append(f.jvm()).append("` |\n")
            .append("| JVM arguments | `").append(String.join(" ", f.jvmArgs())).append("` |\n");
        Path covert = ResultFiles.newestCovert(folder(profiles.get(0).file()));
        JsonNode security = covert == null ? null : new ObjectMapper().readTree(covert.toFile());
        Map<String, CovertReport.Summary> summaries = security == null ? Map.of() : CovertReport.summaries(security);
        for (Loaded l : profiles) {
            profile(b, l, dir, charts, drawn, summaries);
        }
        if (security != null) {
            String chart = covert.getFileName().toString().replaceFirst("\\.json$", "-capacity.png");
            b.append("\n### What each placement buys: covert channel, traffic-flow analysis, trusted base\n\n")
                .append('[').append(covert.getFileName()).append("](").append(relative(dir, covert)).append(")\n\n")
                .append(demote(CovertReport.markdown(security, relative(dir, covert.resolveSibling(chart))).stripTrailing(), 1))
                .append('\n');
        }
    }

    private static void profile(StringBuilder b, Loaded l, Path dir, Path charts, List<Path> drawn,
                                Map<String, CovertReport.Summary> security) throws IOException {
        RunFacts f = l.facts();
        b.append("\n### Profile `").append(l.profile()).append("`\n\n")
            .append(String.format(Locale.ROOT, "[%s](%s)%s: forks %s, warm-up %s, measurement %s, threads %s.%n%n",
                l.file().getFileName(), relative(dir, l.file()), l.commit() == null ? "" : ", commit " + l.commit(), f.forks(),
                f.warmup(), f.measurement(), f.threads()))
            .append("Machine: ").append(f.machine() == null
                ? "not recorded with this run (bench.sh writes `<profile>-<timestamp>.machine.json` beside the results)."
                : f.machine().describe()).append("\n");
        if (!l.groups().isEmpty()) {
            b.append("\n#### Placements\n\n").append(demote(PlacementTable.markdown(l.groups(), security).stripTrailing(), 2)).append('\n');
            placementCharts(b, l, dir, charts, drawn);
        }
        String executors = ExecutorTable.markdown(ExecutorTable.build(l.results()));
        if (!executors.isEmpty()) {
            b.append('\n').append(demote(executors.stripTrailing(), 2)).append('\n');
        }
        String mac = MacTable.markdown(MacTable.build(l.results()));
        if (!mac.isEmpty()) {
            b.append('\n').append(demote(mac.stripTrailing(), 2)).append('\n');
        }
        String others = OtherResults.markdown(l.results());
        if (!others.isEmpty()) {
            b.append("\n#### Other benchmarks\n\n").append(demote(others.stripTrailing(), 2)).append('\n');
        }
    }

    /** Crossings per I/O against depth (a table), and the charts of the profile's main setting. */
    private static void placementCharts(StringBuilder b, Loaded l, Path dir, Path charts, List<Path> drawn) throws IOException {
        List<PlacementTable.Group> main = mainSetting(l.groups());
        if (main.isEmpty()) {
            return;
        }
        String setting = setting(main.get(0));
        String name = fileName(l.jvm() + "-" + l.profile());
        String who = l.jvm() + ", profile " + l.profile();
        Path crossings = charts.resolve(name + "-crossings.png");
        if (main.size() > 1) {
            b.append("\n#### Crossings per I/O against queue depth\n\n").append(setting).append(".\n\n")
                .append(depthTable(main));
            Charts.crossingsByDepth(main, "Crossings per I/O against queue depth, " + who, setting, crossings);
            drawn.add(crossings);
            b.append('\n').append(image(dir, crossings, "crossings per I/O against queue depth")).append('\n');
        } else {
            // One depth has no curve: an older run's chart of this profile would be stale.
            Files.deleteIfExists(crossings);
        }
        b.append("\n#### Charts\n\n").append(setting)
            .append(". Error bars are 99.9% confidence half-widths; a bar without one had too few samples for JMH to give one.\n\n");
        Path ios = charts.resolve(name + "-ios.png");
        Charts.iosByPlacement(main, "I/O per second by placement, " + who, setting, ios);
        drawn.add(ios);
        b.append(image(dir, ios, "I/O per second by placement and depth")).append("\n\n");
        Path ratio = charts.resolve(name + "-time-over-native.png");
        Charts.timeOverNative(main.get(0), "Time per I/O over native's: paper, modelled, measured; " + who, setting, ratio);
        drawn.add(ratio);
        b.append(image(dir, ratio, "time per I/O over native's: paper, modelled and measured")).append('\n');
        for (PlacementTable.Group g : main) {
            if (g.rows().stream().allMatch(r -> r.split().isEmpty())) {
                continue;
            }
            Path split = charts.resolve(name + "-cost-split-depth" + g.depth() + ".png");
            Charts.costSplit(g, "Where the modelled ns per I/O go, depth " + g.depth() + "; " + who, setting, split);
            drawn.add(split);
            b.append('\n').append(image(dir, split, "modelled ns per I/O by cause, depth " + g.depth())).append('\n');
        }
    }

    /** Crossings per I/O: a row per placement, a column per depth (the groups' order), beside the paper's count. */
    static String depthTable(List<PlacementTable.Group> byDepth) {
        List<String> placements = new ArrayList<>();
        for (PlacementTable.Group g : byDepth) {
            g.rows().stream().map(PlacementTable.Row::placement).filter(p -> !placements.contains(p)).forEach(placements::add);
        }
        placements.sort(Comparator.comparingInt(PlacementTable::order));
        StringBuilder b = new StringBuilder("| placement | paper |");
        byDepth.forEach(g -> b.append(" depth ").append(g.depth()).append(" |"));
        b.append("\n|---|---:|").append("---:|".repeat(byDepth.size())).append('\n');
        for (String p : placements) {
            b.append("| ").append(p).append(" | ").append(paper(p)).append(" |");
            for (PlacementTable.Group g : byDepth) {
                PlacementTable.Row r = g.row(p);
                b.append(' ').append(r == null ? "" : PlacementTable.fixed(r.crossingsPerIo(), 2)).append(" |");
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** The paper's count with its unit, e.g. "8 per chain", or "" for a name the core does not know. */
    private static String paper(String placement) {
        try {
            Placement p = Placement.parse(placement);
            return p.paperCrossings() + " " + p.paperUnit();
        } catch (IllegalArgumentException unknown) {
            return "";
        }
    }

    /** Adds {@code levels} to every Markdown heading, so a table's sections nest under the report's. */
    static String demote(String markdown, int levels) {
        String prefix = "#".repeat(levels);
        StringBuilder b = new StringBuilder();
        for (String line : markdown.split("\n", -1)) {
            b.append(line.startsWith("#") ? prefix + line : line).append('\n');
        }
        b.setLength(b.length() - 1);
        return b.toString();
    }

    private static String image(Path dir, Path png, String alt) {
        return "![" + alt + "](" + relative(dir, png) + ")";
    }

    /** A file name made of the characters that need no quoting anywhere. */
    private static String fileName(String s) {
        return s.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    private static Path folder(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return parent == null ? Path.of("").toAbsolutePath() : parent;
    }

    /** A link target from the report's folder, with forward slashes. */
    static String relative(Path dir, Path target) {
        return dir.toAbsolutePath().normalize().relativize(target.toAbsolutePath().normalize()).toString().replace('\\', '/');
    }

    /** The checkout the report lies in (the folder above that holds docs/cost-profiles.md), or {@code null}. */
    private static Path repositoryRoot(Path dir) {
        for (Path p = dir.toAbsolutePath().normalize(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("docs/cost-profiles.md"))) {
                return p;
            }
        }
        return null;
    }

    private static String link(Path dir, Path root, String path, String text) {
        return root == null ? text : "[" + text + "](" + relative(dir, root.resolve(path)) + ")";
    }
}
