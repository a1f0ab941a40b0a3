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
 *
 * <p>A JMH {@code @Group} (RingBench's producer and consumer) is the exception: its score is the sum
 * of its methods' calls, successful or not, so a counter per such "operation" means nothing. Its
 * counters, and each method's calls, are shown as JMH measured them: per second ± 99.9% error.
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
            boolean group = throughput && rows.stream().allMatch(OtherResults::isGroup);
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
            String per = group ? " per s ± 99.9% |" : " per op |";
            counters.forEach(c -> b.append(' ').append(c).append(per));
            b.append(" alloc B/op |\n|");
            b.append("---|".repeat(params.size())).append("---:|---|").append("---:|".repeat(counters.size())).append("---:|\n");
            for (JmhResult r : rows) {
                b.append('|');
                params.forEach(p -> b.append(' ').append(r.params().getOrDefault(p, "")).append(" |"));
                b.append(' ').append(score(r.primary().score(), r.primary().error())).append(" | ")
                    .append(r.primary().unit()).append(" |");
                for (String c : counters) {
                    JmhResult.Metric m = r.secondary(c);
                    String v = m == null ? "" : group ? score(m.score(), m.error()) : perOp(m.score() / r.primary().score());
                    b.append(' ').append(v).append(" |");
                }
                JmhResult.Metric alloc = r.secondary("gc.alloc.rate.norm");
                b.append(' ').append(alloc == null ? "" : String.format(Locale.ROOT, "%.3f", alloc.score())).append(" |\n");
            }
            b.append('\n');
        }
        return b.toString();
    }

    /**
     * True for a JMH group: secondary results named after its methods (the group's name and a
     * suffix, as {@code sharedRingFrontEnd} of {@code sharedRing}) whose rates add up to the score.
     */
    static boolean isGroup(JmhResult r) {
        String method = r.benchmark().substring(r.benchmark().lastIndexOf('.') + 1);
        double sum = 0;
        int methods = 0;
        for (Map.Entry<String, JmhResult.Metric> e : r.secondary().entrySet()) {
            String name = e.getKey();
            if (name.length() > method.length() && name.startsWith(method)
                && Character.isUpperCase(name.charAt(method.length())) && e.getValue().unit().equals(r.primary().unit())) {
                sum += e.getValue().score();
                methods++;
            }
        }
        double score = r.primary().score();
        return methods >= 2 && Math.abs(sum - score) <= 1e-6 * Math.abs(score);
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
