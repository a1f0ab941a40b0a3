package org.hvbench.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import org.hvbench.core.arch.Placement;

/**
 * The comparison of placements: for each setting (operation, size, depth, TLB tagging, cost
 * profile, grant mode, IOMMU mode), one row per placement with crossings per I/O beside the paper's count, I/Os per second
 * with JMH's 99.9% error, time per I/O relative to native (error propagated from both scores), TLB
 * misses and modelled nanoseconds per I/O, allocation per I/O, and the raw copy of the same bytes
 * as the floor.
 */
public final class PlacementTable {
    static final String ARCHITECTURE = "ArchitectureBench.io";
    static final String RAW_COPY = "RawCopyBench.copy";

    private PlacementTable() {
    }

    /** One measured placement in one setting. */
    public record Row(String placement, double crossingsPerIo, int paperCrossings, double ios, double iosError,
                      double costVsNative, double costVsNativeError, double tlbMissesPerIo, double modelledNsPerIo,
                      double allocBytesPerIo, double notificationsPerIo, double iotlbMissesPerIo) {
    }

    /** One setting and its rows, native first. */
    public record Group(String operation, int size, int depth, String tlbTagged, String costProfile, String grantMode,
                        String iommu, String iommuInvalidation, String executor, String idle, List<Row> rows, Row rawCopy) {
        public Row row(String placement) {
            return rows.stream().filter(r -> r.placement().equals(placement)).findFirst().orElse(null);
        }

        /** Time of a native I/O over the raw copy's; {@code NaN} when either is missing. */
        public double nativeOverRawCopy() {
            Row n = row(Placement.NATIVE.id());
            return n == null || rawCopy == null ? Double.NaN : rawCopy.ios() / n.ios();
        }
    }

    public static List<Group> build(List<JmhResult> results) {
        Map<List<String>, List<JmhResult>> bySetting = new LinkedHashMap<>();
        List<JmhResult> raw = new ArrayList<>();
        for (JmhResult r : results) {
            if (r.simpleName().equals(ARCHITECTURE)) {
                List<String> key = List.of(r.param("operation"), r.param("size"), r.param("depth"), r.param("tlbTagged"),
                    r.param("costProfile"), Objects.toString(r.param("grantMode"), "persistent"),
                    Objects.toString(r.param("iommu"), "on"), Objects.toString(r.param("iommuInvalidation"), "strict"),
                    Objects.toString(r.param("executor"), "inline") + ("fifo".equals(r.param("events")) ? ", fifo events" : ""),
                    "threaded".equals(r.param("executor")) ? Objects.toString(r.param("idle"), "backoff") : "");
                bySetting.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
            } else if (r.simpleName().equals(RAW_COPY)) {
                raw.add(r);
            }
        }
        List<Group> groups = new ArrayList<>();
        for (Map.Entry<List<String>, List<JmhResult>> e : bySetting.entrySet()) {
            List<String> k = e.getKey();
            int size = Integer.parseInt(k.get(1));
            int depth = Integer.parseInt(k.get(2));
            JmhResult nat = e.getValue().stream().filter(r -> r.param("placement").equals(Placement.NATIVE.id())).findFirst()
                .orElse(null);
            List<Row> rows = new ArrayList<>();
            for (JmhResult r : e.getValue()) {
                rows.add(row(r, nat, depth));
            }
            rows.sort(Comparator.comparingInt(r -> order(r.placement())));
            JmhResult copy = raw.stream().filter(r -> Objects.equals(r.param("operation"), k.get(0))
                && Objects.equals(r.param("size"), k.get(1)) && Objects.equals(r.param("depth"), k.get(2))).findFirst().orElse(null);
            groups.add(new Group(k.get(0), size, depth, k.get(3), k.get(4), k.get(5), k.get(6), k.get(7), k.get(8), k.get(9), rows,
                copy == null ? null : rawRow(copy, nat)));
        }
        groups.sort(Comparator.comparing(Group::operation).thenComparingInt(Group::size).thenComparingInt(Group::depth)
            .thenComparing(Group::tlbTagged).thenComparing(Group::costProfile).thenComparing(Group::grantMode)
            .thenComparing(Group::iommu).thenComparing(Group::iommuInvalidation).thenComparing(Group::executor)
            .thenComparing(Group::idle));
        return groups;
    }

    /** A placement's position in {@link Placement}'s order; unknown names last. */
    static int order(String placement) {
        try {
            return Placement.parse(placement).ordinal();
        } catch (IllegalArgumentException unknown) {
            return Integer.MAX_VALUE;
        }
    }

    /** I/O per second (the {@code ios} counter), or NaN. */
    static double ios(JmhResult r) {
        JmhResult.Metric m = r.secondary("ios");
        return m == null ? Double.NaN : m.score();
    }

    static double iosError(JmhResult r) {
        JmhResult.Metric m = r.secondary("ios");
        return m == null ? Double.NaN : m.error();
    }

    private static double perIo(JmhResult r, String counter) {
        JmhResult.Metric m = r.secondary(counter);
        return m == null ? Double.NaN : m.score() / ios(r);
    }

    private static Row row(JmhResult r, JmhResult nat, int depth) {
        int paper;
        try {
            paper = Placement.parse(r.param("placement")).paperCrossings();
        } catch (IllegalArgumentException unknown) {
            paper = -1;
        }
        double[] ratio = r == nat ? new double[] {1, 0} : ratio(nat, r);
        JmhResult.Metric alloc = r.secondary("gc.alloc.rate.norm");
        return new Row(r.param("placement"), perIo(r, "crossings"), paper, ios(r), iosError(r), ratio[0], ratio[1],
            perIo(r, "tlbMisses"), perIo(r, "modelledNs"), alloc == null ? Double.NaN : alloc.score() / depth,
            perIo(r, "notifications"), perIo(r, "iotlbMisses"));
    }

    private static Row rawRow(JmhResult copy, JmhResult nat) {
        double[] ratio = ratio(nat, copy);
        return new Row("raw copy (floor)", 0, 0, ios(copy), iosError(copy), ratio[0], ratio[1], 0, Double.NaN, Double.NaN, 0, 0);
    }

    /**
     * Time per I/O of {@code r} over native's (native I/Os per second over {@code r}'s), with the
     * error of a quotient: relative errors added in quadrature.
     */
    static double[] ratio(JmhResult nat, JmhResult r) {
        if (nat == null) {
            return new double[] {Double.NaN, Double.NaN};
        }
        return ratio(ios(nat), iosError(nat), ios(r), iosError(r));
    }

    /** {@code a / b} and its error: the relative errors of both added in quadrature. */
    static double[] ratio(double a, double aError, double b, double bError) {
        double ratio = a / b;
        return new double[] {ratio, ratio * Math.hypot(aError / a, bError / b)};
    }

    /** The groups as Markdown tables. */
    public static String markdown(List<Group> groups) {
        StringBuilder b = new StringBuilder();
        for (Group g : groups) {
            b.append(String.format(Locale.ROOT, "### %s %s, queue depth %d, TLB %s, cost profile %s, grant mode %s, IOMMU %s%s%n%n",
                g.operation(), size(g.size()), g.depth(), "true".equals(g.tlbTagged()) ? "tagged" : "untagged", g.costProfile(),
                g.grantMode(), iommu(g),
                g.executor().startsWith("threaded") ? ", " + g.executor().replace("threaded", "threaded executor (idle " + g.idle() + ")")
                    : g.executor().replace("inline", "")));
            b.append("| placement | crossings per I/O | paper, per I/O | notifications per I/O | I/O per s ± 99.9%"
                + " | time per I/O × native | TLB misses per I/O | IOTLB misses per I/O | modelled ns per I/O"
                + " | alloc B per I/O |\n");
            b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Row r : g.rows()) {
                b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n", r.placement(),
                    fixed(r.crossingsPerIo(), 2), r.paperCrossings() < 0 ? "" : Integer.toString(r.paperCrossings()),
                    fixed(r.notificationsPerIo(), 2), withError(r.ios(), r.iosError()),
                    ratio(r.costVsNative(), r.costVsNativeError()), fixed(r.tlbMissesPerIo(), 1),
                    fixed(r.iotlbMissesPerIo(), 2), fixed(r.modelledNsPerIo(), 0), fixed(r.allocBytesPerIo(), 3)));
            }
            Row raw = g.rawCopy();
            if (raw != null) {
                b.append(String.format(Locale.ROOT, "| %s | 0 | | | %s | %s | 0 | | | |%n", raw.placement(),
                    withError(raw.ios(), raw.iosError()), ratio(raw.costVsNative(), raw.costVsNativeError())));
            }
            double floor = g.nativeOverRawCopy();
            if (!Double.isNaN(floor)) {
                b.append(String.format(Locale.ROOT, "%nA native I/O takes %.1f× the time of a bare copy of its bytes.%n", floor));
            }
            b.append('\n');
        }
        if (groups.isEmpty()) {
            b.append("(no ArchitectureBench results)\n");
        }
        return b.toString();
    }

    /**
     * "on (strict)"; "off" or "exclusion" alone, unless the run also set a non-default invalidation,
     * which only an IOMMU that is on uses: then the heading says so, or two runs that differ only
     * there would look like one setting twice.
     */
    static String iommu(Group g) {
        if ("on".equals(g.iommu())) {
            return "on (" + g.iommuInvalidation() + ")";
        }
        return "strict".equals(g.iommuInvalidation()) ? g.iommu() : g.iommu() + " (invalidation " + g.iommuInvalidation() + ", unused)";
    }

    static String size(int bytes) {
        if (bytes % (1 << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }

    static String fixed(double v, int decimals) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    static String withError(double v, double error) {
        if (Double.isNaN(v)) {
            return "";
        }
        return Double.isNaN(error) ? String.format(Locale.ROOT, "%,.0f (no error: too few samples)", v)
            : String.format(Locale.ROOT, "%,.0f ± %,.0f", v, error);
    }

    static String ratio(double v, double error) {
        if (Double.isNaN(v)) {
            return "";
        }
        return Double.isNaN(error) ? String.format(Locale.ROOT, "%.2f", v) : String.format(Locale.ROOT, "%.2f ± %.2f", v, error);
    }
}
