package org.hvbench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * The same benchmarks run on several JVMs, one JMH JSON file per JVM, side by side: per benchmark and
 * parameters each JVM's score ± 99.9% error, its score over the first JVM's, and a verdict. A difference
 * is called only where the intervals [score − error, score + error] do not overlap, and only between
 * results of two or more forks that have an error: one fork's iterations share that fork's JIT
 * decisions and memory layout, so its error understates how much a new JVM start moves the score.
 */
public final class JvmComparison {
    private JvmComparison() {
    }

    static final String USAGE = "usage: Report compare [--out FILE.md] [--chart FILE.png] [--title TEXT] A.json B.json [C.json...]\n"
        + "  one JMH JSON file per JVM, the first the one the others are compared with; Markdown to --out (else\n"
        + "  standard output); --title goes under the heading, its first line also heads the chart";

    /** One JVM's results (one JMH JSON file): a short label for the table and what the JSON says of the JVM. */
    public record Side(String label, String vm, String java, String source, List<JmhResult> results) {
        /** The JVM named by the results' {@code vmVersion} (else {@code jdkVersion}, else the source). */
        public static Side of(String source, List<JmhResult> results) {
            if (results.isEmpty()) {
                throw new IllegalArgumentException(source + " holds no results");
            }
            Set<String> jvms = new LinkedHashSet<>();
            results.forEach(r -> jvms.add(r.jvm() + " " + r.vmVersion()));
            if (jvms.size() > 1) {
                throw new IllegalArgumentException(source + " mixes JVMs (" + String.join(", ", jvms)
                    + "); give one file per JVM");
            }
            JmhResult r = results.get(0);
            String label = !r.vmVersion().isEmpty() ? r.vmVersion() : !r.jdkVersion().isEmpty() ? r.jdkVersion() : source;
            return new Side(label, (r.vmName() + " " + r.vmVersion()).trim(), r.jvm(), source, List.copyOf(results));
        }

        Side withLabel(String newLabel) {
            return new Side(newLabel, vm, java, source, results);
        }
    }

    /** How one JVM's result stands against the first JVM's. */
    public enum Outcome {
        /** The confidence intervals overlap. */
        NOT_SIGNIFICANT,
        /** This JVM is faster than the first: the intervals do not overlap. */
        FASTER,
        /** The first JVM is faster. */
        SLOWER,
        /** One of the two comes from a single fork. */
        ONE_FORK,
        /** One of the two has no error (too few samples) or no score. */
        NO_ERROR,
        /** The two are in different units (e.g. one run with {@code -tu ns}). */
        UNITS_DIFFER,
        /** One of the two JVMs lacks this result. */
        MISSING
    }

    /** One benchmark with one set of parameters: each JVM's result, {@code null} where it has none. */
    public record Row(String benchmark, String mode, Map<String, String> params, List<JmhResult> results) {
        public JmhResult result(int side) {
            return results.get(side);
        }

        /** The simple name, e.g. {@code ArchitectureBench.io}. */
        public String simpleName() {
            return results.stream().filter(Objects::nonNull).findFirst().orElseThrow().simpleName();
        }

        public String unit() {
            return results.stream().filter(Objects::nonNull).findFirst().orElseThrow().primary().unit();
        }

        /** This JVM's score over the first JVM's; {@code NaN} when either is missing. */
        public double ratio(int side) {
            JmhResult first = results.get(0);
            JmhResult other = results.get(side);
            return first == null || other == null ? Double.NaN : other.primary().score() / first.primary().score();
        }

        public Outcome outcome(int side) {
            return compare(results.get(0), results.get(side));
        }
    }

    /** The JVMs, the first being the one the others are compared with, and every row of any of them. */
    public record Comparison(List<Side> sides, List<Row> rows) {
        /** The verdict of one JVM against the first, as the table writes it. */
        public String verdict(Row row, int side) {
            Side first = sides.get(0);
            Side other = sides.get(side);
            return switch (row.outcome(side)) {
                case NOT_SIGNIFICANT -> "not significant";
                case FASTER -> other.label() + " faster";
                case SLOWER -> first.label() + " faster";
                case ONE_FORK -> "one fork: not compared";
                case NO_ERROR -> "no error: not compared";
                case UNITS_DIFFER -> "units differ: not compared";
                case MISSING -> {
                    List<String> missing = new ArrayList<>();
                    if (row.result(0) == null) {
                        missing.add(first.label());
                    }
                    if (row.result(side) == null) {
                        missing.add(other.label());
                    }
                    yield "missing on " + String.join(" and ", missing);
                }
            };
        }
    }

    /**
     * {@code other} against {@code first}. In throughput mode a higher score is faster, in the time
     * modes (average, sample, single shot) a lower one.
     */
    public static Outcome compare(JmhResult first, JmhResult other) {
        if (first == null || other == null) {
            return Outcome.MISSING;
        }
        if (first.forks() < 2 || other.forks() < 2) {
            return Outcome.ONE_FORK;
        }
        JmhResult.Metric a = first.primary();
        JmhResult.Metric b = other.primary();
        if (!Double.isFinite(a.score()) || !Double.isFinite(b.score()) || !Double.isFinite(a.error()) || !Double.isFinite(b.error())) {
            return Outcome.NO_ERROR;
        }
        if (!a.unit().equals(b.unit())) {
            return Outcome.UNITS_DIFFER;
        }
        if (b.score() - b.error() <= a.score() + a.error() && a.score() - a.error() <= b.score() + b.error()) {
            return Outcome.NOT_SIGNIFICANT;
        }
        boolean higherIsFaster = first.mode().equals("thrpt");
        return (b.score() > a.score()) == higherIsFaster ? Outcome.FASTER : Outcome.SLOWER;
    }

    /**
     * Pairs the JVMs' results by benchmark, mode and parameters, in the order they first appear. A file
     * holding the same benchmark and parameters twice (a profile of several runs) pairs the first with
     * the first, the second with the second. Two JVMs with the same label get a number.
     */
    public static Comparison build(List<Side> sides) {
        if (sides.size() < 2) {
            throw new IllegalArgumentException("a comparison needs two or more JVMs, got " + sides.size());
        }
        List<Side> named = new ArrayList<>();
        Map<String, Integer> seen = new HashMap<>();
        for (Side s : sides) {
            int n = seen.merge(s.label(), 1, Integer::sum);
            named.add(n == 1 ? s : s.withLabel(s.label() + " #" + n));
        }
        Map<String, JmhResult[]> rows = new LinkedHashMap<>();
        for (int i = 0; i < named.size(); i++) {
            Map<String, Integer> occurrences = new HashMap<>();
            for (JmhResult r : named.get(i).results()) {
                String key = r.benchmark() + '\0' + r.mode() + '\0' + new TreeMap<>(r.params());
                key += '\0' + occurrences.merge(key, 1, Integer::sum).toString();
                rows.computeIfAbsent(key, k -> new JmhResult[named.size()])[i] = r;
            }
        }
        List<Row> out = new ArrayList<>();
        for (JmhResult[] results : rows.values()) {
            JmhResult any = Arrays.stream(results).filter(Objects::nonNull).findFirst().orElseThrow();
            out.add(new Row(any.benchmark(), any.mode(), any.params(), Arrays.asList(results)));
        }
        return new Comparison(List.copyOf(named), List.copyOf(out));
    }

    /** Rows of one benchmark method, with the parameters they share and those that tell them apart. */
    record Group(String name, List<Row> rows, Map<String, String> shared, List<String> varying) {
    }

    static List<Group> groups(Comparison c) {
        Map<String, List<Row>> byName = new LinkedHashMap<>();
        c.rows().forEach(r -> byName.computeIfAbsent(r.simpleName(), k -> new ArrayList<>()).add(r));
        List<Group> out = new ArrayList<>();
        for (Map.Entry<String, List<Row>> e : byName.entrySet()) {
            Set<String> names = new LinkedHashSet<>();
            e.getValue().forEach(r -> names.addAll(r.params().keySet()));
            Map<String, String> shared = new LinkedHashMap<>();
            List<String> varying = new ArrayList<>();
            for (String p : names) {
                String v = e.getValue().get(0).params().get(p);
                if (v != null && e.getValue().stream().allMatch(r -> v.equals(r.params().get(p)))) {
                    shared.put(p, v);
                } else {
                    varying.add(p);
                }
            }
            out.add(new Group(e.getKey(), e.getValue(), shared, varying));
        }
        return out;
    }

    /** The comparison as Markdown: the JVMs, a count of verdicts per JVM, then a table per benchmark method. */
    public static String markdown(Comparison c, String title) {
        List<Side> sides = c.sides();
        Side first = sides.get(0);
        StringBuilder b = new StringBuilder("# JVMs compared\n\n");
        if (!title.isBlank()) {
            b.append(title).append("\n\n");
        }
        b.append("| JVM | VM | java | results |\n|---|---|---|---|\n");
        for (Side s : sides) {
            b.append("| ").append(s.label()).append(" | ").append(s.vm()).append(" | ").append(s.java())
                .append(" | ").append(s.source()).append(" |\n");
        }
        b.append("\nScores are JMH's mean ± its 99.9% confidence half-width; ratios are each JVM's score over ")
            .append(first.label()).append("'s. A JVM is called faster only where the intervals [score − error, ")
            .append("score + error] do not overlap, and only between results of 2 or more forks that have an ")
            .append("error. In ops/s higher is faster, in time per operation lower.\n\n");
        for (int k = 1; k < sides.size(); k++) {
            Map<Outcome, Integer> count = new LinkedHashMap<>();
            for (Row r : c.rows()) {
                count.merge(r.outcome(k), 1, Integer::sum);
            }
            int notCompared = count.getOrDefault(Outcome.ONE_FORK, 0) + count.getOrDefault(Outcome.NO_ERROR, 0)
                + count.getOrDefault(Outcome.UNITS_DIFFER, 0);
            b.append(String.format(Locale.ROOT, "%s against %s: faster in %d, slower in %d, not significant in %d, "
                    + "not compared in %d, missing on one side in %d.%n", sides.get(k).label(), first.label(),
                count.getOrDefault(Outcome.FASTER, 0), count.getOrDefault(Outcome.SLOWER, 0),
                count.getOrDefault(Outcome.NOT_SIGNIFICANT, 0), notCompared, count.getOrDefault(Outcome.MISSING, 0)));
        }
        for (Group g : groups(c)) {
            b.append("\n### ").append(g.name()).append("\n\n");
            if (!g.shared().isEmpty()) {
                List<String> kv = new ArrayList<>();
                g.shared().forEach((k, v) -> kv.add(k + " " + v));
                b.append("All rows: ").append(String.join(", ", kv)).append(".\n\n");
            }
            b.append('|');
            g.varying().forEach(p -> b.append(' ').append(p).append(" |"));
            sides.forEach(s -> b.append(' ').append(s.label()).append(" |"));
            b.append(" unit |");
            for (int k = 1; k < sides.size(); k++) {
                b.append(' ').append(sides.get(k).label()).append(" / ").append(first.label()).append(" |");
                b.append(sides.size() == 2 ? " verdict |" : " verdict, " + sides.get(k).label() + " |");
            }
            b.append("\n|").append("---|".repeat(g.varying().size())).append("---:|".repeat(sides.size())).append("---|")
                .append("---:|---|".repeat(sides.size() - 1)).append('\n');
            for (Row r : g.rows()) {
                b.append('|');
                g.varying().forEach(p -> b.append(' ').append(r.params().getOrDefault(p, "")).append(" |"));
                for (int k = 0; k < sides.size(); k++) {
                    b.append(' ').append(cell(r.result(k))).append(" |");
                }
                b.append(' ').append(r.unit()).append(" |");
                for (int k = 1; k < sides.size(); k++) {
                    double ratio = r.ratio(k);
                    b.append(' ').append(Double.isFinite(ratio) ? String.format(Locale.ROOT, "%.3f", ratio) : "")
                        .append(" | ").append(c.verdict(r, k)).append(" |");
                }
                b.append('\n');
            }
        }
        return b.toString();
    }

    /** A score ± error, saying why it cannot be compared where it cannot. */
    private static String cell(JmhResult r) {
        if (r == null) {
            return "missing";
        }
        String s = OtherResults.score(r.primary().score(), r.primary().error());
        if (r.forks() < 2) {
            s += " (one fork)";
        }
        if (!Double.isFinite(r.primary().error())) {
            s += " (no error)";
        }
        return s;
    }

    /** {@code Report compare}: reads the files, writes the Markdown and the chart. Exit status as {@link Report}'s. */
    static int command(String[] args, PrintStream out, PrintStream err) {
        Path markdownFile = null;
        Path chartFile = null;
        String title = "";
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--out") || a.equals("--chart") || a.equals("--title")) {
                if (i + 1 >= args.length) {
                    err.println("report compare: " + a + " needs a value\n" + USAGE);
                    return 2;
                }
                String v = args[++i];
                switch (a) {
                    case "--out" -> markdownFile = Path.of(v);
                    case "--chart" -> chartFile = Path.of(v);
                    default -> title = v;
                }
            } else if (a.startsWith("-")) {
                err.println("report compare: unknown option " + a + "; allowed: --out FILE.md, --chart FILE.png, --title TEXT\n" + USAGE);
                return 2;
            } else {
                files.add(Path.of(a));
            }
        }
        if (chartFile != null && !chartFile.getFileName().toString().endsWith(".png")) {
            err.println("report compare: --chart " + chartFile + ": the chart is a PNG, give a name ending in .png");
            return 2;
        }
        if (files.size() < 2) {
            err.println("report compare: give two or more JMH JSON files, one per JVM (got " + files.size() + ")\n" + USAGE);
            return 2;
        }
        List<Side> sides = new ArrayList<>();
        for (Path file : files) {
            if (!Files.isReadable(file)) {
                err.println("report compare: cannot read " + file);
                return 1;
            }
            try {
                sides.add(Side.of(file.toString(), JmhResult.read(file)));
            } catch (IOException | IllegalArgumentException e) {
                err.println("report compare: " + e.getMessage());
                return 1;
            }
        }
        Comparison c = build(sides);
        try {
            String md = markdown(c, title);
            if (markdownFile == null) {
                out.print(md);
            } else {
                createParent(markdownFile);
                Files.writeString(markdownFile, md, StandardCharsets.UTF_8);
            }
            if (chartFile != null) {
                createParent(chartFile);
                ComparisonChart.write(c, chartFile, title);
            }
        } catch (IOException e) {
            err.println("report compare: cannot write: " + e.getMessage());
            return 1;
        }
        return 0;
    }

    private static void createParent(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
    }
}
