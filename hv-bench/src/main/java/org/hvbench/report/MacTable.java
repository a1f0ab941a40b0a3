package org.hvbench.report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.arch.TrustedBase;

/**
 * sHype on the data path, per placement and setting: I/O per second without access control
 * ({@code mac=off}), and under each policy its time per I/O over off's (the quotient's error), its
 * crossings and modelled ns per I/O beside off's. sHype's hooks decide at bind time, so the ratios
 * should hold 1 and the counted columns be equal. Only settings run with {@code off} and at least one
 * other mode appear; the last line pools each mode's ratios over the virtualized placements (their
 * mean and the standard error of that mean), a figure tighter than any one placement's. Native has no
 * hypervisor, so sHype installs nothing there: its row is the control, the run's noise alone. Beside
 * the cost, what the policy adds to each placement's trusted base: its TCB lines without and with sHype
 * ({@link TrustedBase}, counted in the source tree the report runs in, so "—" outside a checkout).
 */
public final class MacTable {
    private static final String ARCHITECTURE = "ArchitectureBench.io";
    private static final List<String> MODES = List.of("ste", "chwall-ste");

    private MacTable() {
    }

    /** One placement at one setting, by mac mode. */
    public record Row(String placement, String setting, Map<String, JmhResult> byMode) {
        /** Time per I/O under {@code mode} over off's, and its error; NaN when either is missing. */
        public double[] ratio(String mode) {
            JmhResult off = byMode.get("off");
            JmhResult on = byMode.get(mode);
            return off == null || on == null ? new double[] {Double.NaN, Double.NaN} : PlacementTable.ratio(off, on);
        }
    }

    public static List<Row> build(List<JmhResult> results) {
        Map<List<String>, Map<String, JmhResult>> rows = new LinkedHashMap<>();
        for (JmhResult r : results) {
            String mac = r.param("mac");
            if (!r.simpleName().equals(ARCHITECTURE) || mac == null) {
                continue;
            }
            rows.computeIfAbsent(List.of(r.param("placement"), setting(r)), k -> new LinkedHashMap<>()).put(mac, r);
        }
        List<Row> out = new ArrayList<>();
        for (Map.Entry<List<String>, Map<String, JmhResult>> e : rows.entrySet()) {
            if (e.getValue().containsKey("off") && e.getValue().size() > 1) {
                out.add(new Row(e.getKey().get(0), e.getKey().get(1), e.getValue()));
            }
        }
        out.sort(Comparator.comparing(Row::setting).thenComparingInt(r -> PlacementTable.order(r.placement())));
        return out;
    }

    private static String setting(JmhResult r) {
        return String.format(Locale.ROOT, "%s %s B, depth %s, grant %s, IOMMU %s, executor %s", r.param("operation"),
            r.param("size"), r.param("depth"), Objects.toString(r.param("grantMode"), "persistent"),
            Objects.toString(r.param("iommu"), "on"), Objects.toString(r.param("executor"), "inline"));
    }

    /**
     * The mean of the virtualized placements' ratios, the standard error of the mean, and how many
     * there were; NaN for fewer than two.
     */
    static double[] pooled(List<Row> rows, String mode) {
        List<Double> q = new ArrayList<>();
        for (Row r : rows) {
            double v = r.placement().equals("native") ? Double.NaN : r.ratio(mode)[0];
            if (!Double.isNaN(v)) {
                q.add(v);
            }
        }
        if (q.size() < 2) {
            return new double[] {Double.NaN, Double.NaN, q.size()};
        }
        double mean = q.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        double var = q.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum() / (q.size() - 1);
        return new double[] {mean, Math.sqrt(var / q.size()), q.size()};
    }

    public static String markdown(List<Row> rows) {
        return markdown(rows, TrustedBase.findSourceRoot(Path.of("")));
    }

    /** The table with TCB lines counted under {@code sourceRoot} (hv-core's sources); null leaves them out. */
    static String markdown(List<Row> rows, Path sourceRoot) {
        if (rows.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder("## sHype on the data path\n\n")
            .append("The hooks decide at bind time, so each policy's time per I/O over the same placement without access"
                + " control (same run) should hold 1, and the counted columns should be equal.\n\n");
        String setting = null;
        List<Row> group = new ArrayList<>();
        for (Row r : rows) {
            if (!r.setting().equals(setting)) {
                pooledLine(b, group);
                group.clear();
                setting = r.setting();
                b.append("### ").append(setting).append("\n\n")
                    .append("| placement | I/O per s, off | time per I/O × off, ste | time per I/O × off, chwall-ste"
                        + " | crossings per I/O, off / ste / chwall-ste | modelled ns per I/O, off / ste / chwall-ste"
                        + " | alloc B per I/O, off / ste / chwall-ste | TCB lines, off → sHype |\n")
                    .append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
            }
            group.add(r);
            JmhResult off = r.byMode().get("off");
            b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", r.placement(), rate(off),
                ratio(r.ratio("ste")), ratio(r.ratio("chwall-ste")), perIo(r, "crossings", "%.2f"), perIo(r, "modelledNs", "%.1f"),
                alloc(r), tcb(r.placement(), sourceRoot)));
        }
        pooledLine(b, group);
        return b.toString();
    }

    private static void pooledLine(StringBuilder b, List<Row> group) {
        if (group.isEmpty()) {
            return;
        }
        StringBuilder line = new StringBuilder();
        for (String mode : MODES) {
            double[] p = pooled(group, mode);
            if (!Double.isNaN(p[0])) {
                line.append(line.length() == 0 ? "" : "; ").append(String.format(Locale.ROOT,
                    "%s: mean time per I/O × off %.3f ± %.3f (standard error of %d placements' ratios)", mode, p[0], p[1], (int) p[2]));
            }
        }
        b.append('\n').append(line.length() == 0 ? "" : "Pooled over the virtualized placements (native, with no hypervisor to install sHype in, is the control): " + line + ".\n").append('\n');
    }

    /** TCB lines without and with sHype (ste and chwall-ste run the same module), or "—". */
    static String tcb(String placement, Path sourceRoot) {
        if (sourceRoot == null) {
            return "—";
        }
        Placement p = Placement.parse(placement);
        return String.format(Locale.ROOT, "%,d → %,d", TrustedBase.lines(sourceRoot, p), TrustedBase.lines(sourceRoot, p, "ste"));
    }

    private static String ratio(double[] q) {
        if (Double.isNaN(q[0])) {
            return "";
        }
        return Double.isNaN(q[1]) ? String.format(Locale.ROOT, "%.3f", q[0]) : String.format(Locale.ROOT, "%.3f ± %.3f", q[0], q[1]);
    }

    private static String rate(JmhResult r) {
        if (r == null) {
            return "";
        }
        double e = PlacementTable.iosError(r);
        return Double.isNaN(e) ? String.format(Locale.ROOT, "%,.0f", PlacementTable.ios(r))
            : String.format(Locale.ROOT, "%,.0f ± %,.0f", PlacementTable.ios(r), e);
    }

    private static String perIo(Row row, String counter, String format) {
        List<String> parts = new ArrayList<>();
        for (String mode : List.of("off", "ste", "chwall-ste")) {
            JmhResult r = row.byMode().get(mode);
            JmhResult.Metric m = r == null ? null : r.secondary(counter);
            parts.add(m == null ? "–" : String.format(Locale.ROOT, format, m.score() / PlacementTable.ios(r)));
        }
        return String.join(" / ", parts);
    }

    private static String alloc(Row row) {
        List<String> parts = new ArrayList<>();
        for (String mode : List.of("off", "ste", "chwall-ste")) {
            JmhResult r = row.byMode().get(mode);
            JmhResult.Metric m = r == null ? null : r.secondary("gc.alloc.rate.norm");
            int depth = r == null ? 1 : Integer.parseInt(Objects.toString(r.param("depth"), "1"));
            parts.add(m == null ? "–" : String.format(Locale.ROOT, "%.3f", m.score() / depth));
        }
        return String.join(" / ", parts);
    }
}
