package org.hvbench.report;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

import org.hvbench.core.arch.Placement;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.ChartEncoder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.Marker;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The report's PNG charts, drawn with XChart from placement-table groups of one setting at several
 * queue depths. Error bars are JMH's 99.9% confidence half-widths; where JMH gave none (too few
 * samples) the bar has none, and the Markdown says so. A placement missing at a depth is a gap.
 */
final class Charts {
    private static final int WIDTH = 1200;
    private static final int HEIGHT = 640;
    /** A colour per placement, in {@link Placement}'s order (the Okabe-Ito palette, then brown and grey). */
    private static final Color[] COLOURS = {new Color(0x000000), new Color(0x0072B2), new Color(0x56B4E9), new Color(0x009E73),
        new Color(0xD55E00), new Color(0xE69F00), new Color(0xCC79A7), new Color(0x8C564B), new Color(0x999999)};
    /** Markers differ too, so lines that coincide (equal counts) still show each placement. */
    private static final Marker[] MARKERS = {SeriesMarkers.CIRCLE, SeriesMarkers.SQUARE, SeriesMarkers.DIAMOND,
        SeriesMarkers.TRIANGLE_UP, SeriesMarkers.TRIANGLE_DOWN, SeriesMarkers.CROSS, SeriesMarkers.PLUS, SeriesMarkers.OVAL,
        SeriesMarkers.RECTANGLE};

    static {
        // Charts are drawn off-screen: a machine without a display must not need one.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private Charts() {
    }

    /** I/O per second of each placement, one bar series per depth, with 99.9% error bars. */
    static void iosByPlacement(List<PlacementTable.Group> byDepth, String title, String setting, Path png) throws IOException {
        List<String> placements = placements(byDepth);
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle("placement (" + setting + ")").yAxisTitle("I/O per second").build();
        style(chart);
        chart.getStyler().setYAxisDecimalPattern("#,###");
        for (PlacementTable.Group g : byDepth) {
            List<Double> ios = new ArrayList<>();
            List<Double> errors = new ArrayList<>();
            for (String p : placements) {
                PlacementTable.Row r = g.row(p);
                ios.add(r == null ? null : finite(r.ios()));
                errors.add(r == null ? null : orZero(r.iosError()));
            }
            chart.addSeries("depth " + g.depth(), placements, ios, errors);
        }
        save(chart, png);
    }

    /**
     * Crossings per I/O against queue depth (chain length), a line per placement in its own colour
     * and marker; the depths measured are evenly spaced, the crossings axis is logarithmic (they
     * fall as 1/depth).
     */
    static void crossingsByDepth(List<PlacementTable.Group> byDepth, String title, String setting, Path png) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle("queue depth: I/Os per batch or chain (" + setting + ")").yAxisTitle("crossings per I/O").build();
        style(chart);
        // Overlapped: every line's points at the depth's own place, not side by side as bars are.
        chart.getStyler().setDefaultSeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Line).setOverlapped(true);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisLabelRotation(0);
        List<String> depths = new ArrayList<>();
        byDepth.forEach(g -> depths.add(Integer.toString(g.depth())));
        double min = Double.MAX_VALUE;
        double max = 0;
        for (String p : placements(byDepth)) {
            List<Double> crossings = new ArrayList<>();
            for (PlacementTable.Group g : byDepth) {
                PlacementTable.Row r = g.row(p);
                boolean shown = r != null && r.crossingsPerIo() > 0 && Double.isFinite(r.crossingsPerIo());
                crossings.add(shown ? r.crossingsPerIo() : null);
                if (shown) {
                    min = Math.min(min, r.crossingsPerIo());
                    max = Math.max(max, r.crossingsPerIo());
                }
            }
            CategorySeries s = chart.addSeries(p, depths, crossings);
            int i = PlacementTable.order(p);
            if (i < COLOURS.length) {
                s.setLineColor(COLOURS[i]);
                s.setMarkerColor(COLOURS[i]);
                s.setMarker(MARKERS[i % MARKERS.length]);
            }
        }
        if (max > 0) {
            // A logarithmic axis labels whole decades only: start at one, so the axis has labels.
            chart.getStyler().setYAxisMin(Math.pow(10, Math.floor(Math.log10(min)))).setYAxisMax(max * 1.5);
        }
        save(chart, png);
    }

    /**
     * Time per I/O over native's, per placement: the paper's prediction (its crossing count over
     * native's), the modelled time and the measured time (with its propagated 99.9% error).
     */
    static void timeOverNative(PlacementTable.Group g, String title, String setting, Path png) throws IOException {
        List<String> placements = placements(List.of(g));
        PlacementTable.Row nat = g.row(Placement.NATIVE.id());
        List<Double> paper = new ArrayList<>();
        List<Double> modelled = new ArrayList<>();
        List<Double> measured = new ArrayList<>();
        List<Double> errors = new ArrayList<>();
        for (String p : placements) {
            PlacementTable.Row r = g.row(p);
            paper.add(r.paperCrossings() > 0 ? r.paperCrossings() / (double) Placement.NATIVE.paperCrossings() : null);
            modelled.add(nat == null ? null : finite(r.modelledNsPerIo() / nat.modelledNsPerIo()));
            measured.add(finite(r.costVsNative()));
            errors.add(orZero(r.costVsNativeError()));
        }
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle("placement (" + setting + ", depth " + g.depth() + ")").yAxisTitle("× native").build();
        style(chart);
        chart.addSeries("paper: crossings ÷ native's (depth 1)", placements, paper);
        chart.addSeries("modelled time ÷ native's", placements, modelled);
        chart.addSeries("measured time ÷ native's, 99.9% error", placements, measured, errors);
        save(chart, png);
    }

    /**
     * Where each row's modelled ns per I/O go: one stacked bar per placement, one colour per coarse
     * part of the split ({@link PlacementTable.SplitColumn}); the bar's height is the modelled total.
     */
    static void costSplit(PlacementTable.Group g, String title, String setting, Path png) throws IOException {
        List<String> placements = new ArrayList<>();
        for (PlacementTable.Row r : g.rows()) {
            if (!r.split().isEmpty()) {
                placements.add(r.placement());
            }
        }
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
            .xAxisTitle("placement (" + setting + ", depth " + g.depth() + ")").yAxisTitle("modelled ns per I/O").build();
        style(chart);
        chart.getStyler().setStacked(true);
        chart.getStyler().setYAxisDecimalPattern("#,###");
        int colour = 0;
        for (PlacementTable.SplitColumn c : PlacementTable.SplitColumn.values()) {
            List<Double> ns = new ArrayList<>();
            for (String p : placements) {
                ns.add(finite(g.row(p).splitNs(c.parts)));
            }
            CategorySeries series = chart.addSeries(c.title, placements, ns);
            series.setFillColor(COLOURS[colour++ % COLOURS.length]);
        }
        save(chart, png);
    }

    /** The placements of the groups, in {@link Placement}'s order. */
    private static List<String> placements(List<PlacementTable.Group> groups) {
        Set<String> names = new LinkedHashSet<>();
        for (PlacementTable.Group g : groups) {
            g.rows().forEach(r -> names.add(r.placement()));
        }
        List<String> sorted = new ArrayList<>(names);
        sorted.sort(Comparator.comparingInt(PlacementTable::order));
        return sorted;
    }

    private static void style(Chart<?, ?> chart) {
        Styler s = chart.getStyler();
        s.setChartBackgroundColor(Color.WHITE);
        s.setLocale(Locale.ROOT);
        if (s instanceof AxesChartStyler a) {
            // Upright labels, a tick for every category: by default XChart drops every other
            // placement name once there are more than about ten.
            a.setXAxisLabelRotation(90);
            a.setXAxisTickMarkSpacingHint(20);
        }
    }

    /** XChart takes a gap as {@code null}; NaN or infinity would spoil the axis. */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static double orZero(double error) {
        return Double.isFinite(error) ? error : 0;
    }

    private static void save(Chart<?, ?> chart, Path png) throws IOException {
        Files.createDirectories(png.toAbsolutePath().getParent());
        Files.write(png, ChartEncoder.getBytes(chart, "png"));
    }
}
