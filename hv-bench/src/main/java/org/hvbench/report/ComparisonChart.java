package org.hvbench.report;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The JVM comparison as a PNG: grouped bars, one group per benchmark and parameters, one colour per
 * JVM. The benchmarks' scores differ by orders of magnitude and in unit, so each bar is a speed
 * relative to the first JVM (its bars are 1; higher is faster in every mode), with the JVM's own 99.9%
 * error scaled alike: where two bars' error bars do not overlap, the table calls one faster.
 */
final class ComparisonChart {
    private ComparisonChart() {
    }

    /** Writes the chart; the first line of {@code title} heads it. */
    static void write(JvmComparison.Comparison c, Path png, String title) throws IOException {
        String heading = title.lines().findFirst().orElse("");
        // Drawn into an image, never shown: no display is needed (set before AWT starts).
        System.setProperty("java.awt.headless", "true");
        List<JvmComparison.Side> sides = c.sides();
        List<String> categories = new ArrayList<>();
        List<List<Double>> speeds = new ArrayList<>();
        List<List<Double>> errors = new ArrayList<>();
        for (int k = 0; k < sides.size(); k++) {
            speeds.add(new ArrayList<>());
            errors.add(new ArrayList<>());
        }
        Map<String, Integer> seen = new HashMap<>();
        for (JvmComparison.Group g : JvmComparison.groups(c)) {
            for (JvmComparison.Row r : g.rows()) {
                JmhResult first = r.result(0);
                if (first == null || !(first.primary().score() > 0)) {
                    continue; // nothing to be relative to; the table lists it
                }
                StringBuilder label = new StringBuilder(g.name());
                g.varying().forEach(p -> label.append(' ').append(p).append('=').append(r.params().getOrDefault(p, "-")));
                int n = seen.merge(label.toString(), 1, Integer::sum);
                categories.add(n == 1 ? label.toString() : label + " #" + n);
                boolean higherIsFaster = first.mode().equals("thrpt");
                for (int k = 0; k < sides.size(); k++) {
                    JmhResult other = r.result(k);
                    double speed = 0;
                    double error = 0;
                    if (other != null && other.primary().score() > 0) {
                        double ratio = other.primary().score() / first.primary().score();
                        speed = higherIsFaster ? ratio : 1 / ratio;
                        double relError = other.primary().error() / other.primary().score();
                        error = Double.isFinite(relError) ? speed * relError : 0;
                    }
                    speeds.get(k).add(speed);
                    errors.get(k).add(error);
                }
            }
        }
        // Room for every bar and every (vertical) label: XChart leaves out labels that would crowd.
        int width = 200 + Math.max(1, categories.size()) * (sides.size() * 24 + 24);
        CategoryChart chart = new CategoryChartBuilder()
            .width(Math.min(16_000, Math.max(900, width)))
            .height(900)
            .title((heading.isBlank() ? "JVMs compared" : "JVMs compared: " + heading) + " (higher is faster; error bars 99.9%)")
            .yAxisTitle("speed / speed on " + sides.get(0).label())
            .build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setXAxisLabelRotation(90);
        chart.getStyler().setXAxisTickMarkSpacingHint(20);
        chart.getStyler().setErrorBarsColorSeriesColor(false);
        chart.getStyler().setYAxisDecimalPattern("0.00");
        if (categories.isEmpty()) {
            categories.add("(no benchmark on " + sides.get(0).label() + ")");
            speeds.forEach(s -> s.add(0.0));
            errors.forEach(e -> e.add(0.0));
        }
        for (int k = 0; k < sides.size(); k++) {
            chart.addSeries(sides.get(k).label(), categories, speeds.get(k), errors.get(k));
        }
        try (OutputStream out = Files.newOutputStream(png)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
