package org.hvbench.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;


/**
 * Threaded against inline, per placement and setting: the inline rate, each idle strategy's rate
 * under the threaded executor, the best of them, and its time per I/O over inline's (with the
 * quotient's error). Only settings that ran under both executors appear.
 */
public final class ExecutorTable {
    private static final String ARCHITECTURE = "ArchitectureBench.io";

    private ExecutorTable() {
    }

    /** One placement at one setting: inline, and threaded by idle strategy. */
    public record Row(String placement, String setting, JmhResult inline, Map<String, JmhResult> threaded) {
        /** The idle strategy with the most I/O per second, or {@code null}. */
        public String bestIdle() {
            return threaded.entrySet().stream().max(Comparator.comparingDouble(e -> PlacementTable.ios(e.getValue())))
                .map(Map.Entry::getKey).orElse(null);
        }
    }

    public static List<Row> build(List<JmhResult> results) {
        Map<List<String>, JmhResult> inline = new LinkedHashMap<>();
        Map<List<String>, Map<String, JmhResult>> threaded = new LinkedHashMap<>();
        for (JmhResult r : results) {
            if (!r.simpleName().equals(ARCHITECTURE)) {
                continue;
            }
            List<String> key = List.of(r.param("placement"), setting(r));
            if ("threaded".equals(r.param("executor"))) {
                threaded.computeIfAbsent(key, k -> new LinkedHashMap<>()).put(Objects.toString(r.param("idle"), "?"), r);
            } else {
                inline.put(key, r);
            }
        }
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<List<String>, Map<String, JmhResult>> e : threaded.entrySet()) {
            JmhResult in = inline.get(e.getKey());
            if (in != null) {
                rows.add(new Row(e.getKey().get(0), e.getKey().get(1), in, e.getValue()));
            }
        }
        rows.sort(Comparator.comparing(Row::setting).thenComparingInt(r -> PlacementTable.order(r.placement())));
        return rows;
    }

    private static String setting(JmhResult r) {
        return String.format(Locale.ROOT, "%s %s B, depth %s, grant %s, IOMMU %s (%s)", r.param("operation"), r.param("size"),
            r.param("depth"), Objects.toString(r.param("grantMode"), "persistent"), Objects.toString(r.param("iommu"), "on"),
            Objects.toString(r.param("iommuInvalidation"), "strict"));
    }

    public static String markdown(List<Row> rows) {
        if (rows.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder("## Threaded against inline\n\n");
        String setting = null;
        for (Row r : rows) {
            if (!r.setting().equals(setting)) {
                setting = r.setting();
                b.append("### ").append(setting).append("\n\n")
                    .append("| placement | inline I/O per s | threaded, spin | threaded, backoff | threaded, park | best"
                        + " | time per I/O, best threaded × inline | crossings per I/O, threaded (best) |\n")
                    .append("|---|---:|---:|---:|---:|---|---:|---:|\n");
            }
            String best = r.bestIdle();
            JmhResult bt = best == null ? null : r.threaded().get(best);
            String ratio = "";
            String crossings = "";
            if (bt != null) {
                double[] q = PlacementTable.ratio(r.inline(), bt);
                ratio = Double.isNaN(q[1]) ? String.format(Locale.ROOT, "%.2f", q[0])
                    : String.format(Locale.ROOT, "%.2f ± %.2f", q[0], q[1]);
                JmhResult.Metric c = bt.secondary("crossings");
                crossings = c == null ? "" : String.format(Locale.ROOT, "%.2f", c.score() / PlacementTable.ios(bt));
            }
            b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", r.placement(), rate(r.inline()),
                rate(r.threaded().get("spin")), rate(r.threaded().get("backoff")), rate(r.threaded().get("park")),
                best == null ? "" : best, ratio, crossings));
        }
        return b.append('\n').toString();
    }

    private static String rate(JmhResult r) {
        if (r == null) {
            return "";
        }
        double e = PlacementTable.iosError(r);
        return Double.isNaN(e) ? String.format(Locale.ROOT, "%,.0f", PlacementTable.ios(r))
            : String.format(Locale.ROOT, "%,.0f ± %,.0f", PlacementTable.ios(r), e);
    }
}
