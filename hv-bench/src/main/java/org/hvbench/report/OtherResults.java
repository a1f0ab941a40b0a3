package org.hvbench.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Every result the placement table does not show (IommuBench, GrantBench, HypercallBench, ...): one
 * Markdown table per benchmark method with its parameters, score ± 99.9% error, and, for a throughput
 * benchmark, each counter divided by the score (a counter per operation, e.g. modelled ns per
 * operation), and the allocation per operation.
 */
final class OtherResults {
    private OtherResults() {
    }

    static String markdown(List<JmhResult> results) {
        Map<String, List<JmhResult>> byBenchmark = new LinkedHashMap<>();
        for (JmhResult r : results) {
            String name = r.simpleName();
            if (!name.equals(PlacementTable.ARCHITECTURE) && !name.equals(PlacementTable.RAW_COPY)) {
                byBenchmark.computeIfAbsent(name, k -> new ArrayList<>()).add(r);
            }
        }
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, List<JmhResult>> e : byBenchmark.entrySet()) {
            List<JmhResult> rows = e.getValue();
            Set<String> params = new LinkedHashSet<>();
            Set<String> counters = new LinkedHashSet<>();
            boolean throughput = rows.stream().allMatch(r -> r.mode().equals("thrpt"));
            for (JmhResult r : rows) {
                params.addAll(r.params().keySet());
                for (String s : r.secondary().keySet()) {
                    // "ops" and "ios" count the operations themselves: per operation they are 1.
                    if (throughput && !s.startsWith("gc.") && !s.contains(":") && !s.equals("ops") && !s.equals("ios")) {
                        counters.add(s);
                    }
                }
            }
            b.append("### ").append(e.getKey()).append("\n\n|");
            params.forEach(p -> b.append(' ').append(p).append(" |"));
            b.append(" score ± 99.9% | unit |");
            counters.forEach(c -> b.append(' ').append(c).append(" per op |"));
            b.append(" alloc B/op |\n|");
            b.append("---|".repeat(params.size())).append("---:|---|").append("---:|".repeat(counters.size())).append("---:|\n");
            for (JmhResult r : rows) {
                b.append('|');
                params.forEach(p -> b.append(' ').append(r.params().getOrDefault(p, "")).append(" |"));
                b.append(' ').append(score(r.primary().score(), r.primary().error())).append(" | ")
                    .append(r.primary().unit()).append(" |");
                for (String c : counters) {
                    JmhResult.Metric m = r.secondary(c);
                    b.append(' ').append(m == null ? "" : perOp(m.score() / r.primary().score())).append(" |");
                }
                JmhResult.Metric alloc = r.secondary("gc.alloc.rate.norm");
                b.append(' ').append(alloc == null ? "" : String.format(Locale.ROOT, "%.3f", alloc.score())).append(" |\n");
            }
            b.append('\n');
        }
        return b.toString();
    }

    /** Small scores (ns/op) keep three decimals, large ones (ops/s) none. */
    static String score(double v, double error) {
        if (Double.isNaN(v)) {
            return "";
        }
        String f = Math.abs(v) >= 100 ? "%,.0f" : "%.3f";
        return Double.isNaN(error) ? String.format(Locale.ROOT, f, v)
            : String.format(Locale.ROOT, f + " ± " + f, v, error);
    }

    private static String perOp(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            return "";
        }
        return Math.abs(v) >= 100 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.3f", v);
    }
}
