package org.hvbench.report;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The security half's tables, from {@code scripts/covert.sh}'s JSON: the covert channel through each
 * placement's driver under each scheduler and clock, the hostile back end's traffic-flow analysis, and
 * each placement's trusted base; and the chart of capacity against what the scheduler costs.
 */
public final class CovertReport {
    private static final Color[] COLOURS = {new Color(0x0072B2), new Color(0x56B4E9), new Color(0x009E73), new Color(0xD55E00),
        new Color(0xE69F00), new Color(0xCC79A7), new Color(0x8C564B), new Color(0x999999)};

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private CovertReport() {
    }

    /**
     * What the placement table shows of one placement: its trusted base and its channel under FIFO,
     * modelled and measured (the threaded clock where the run has it, else the measured one).
     */
    public static final class Summary {
        public final Integer tcbLines;
        public final boolean sharesDriver;
        /** Capacity under FIFO at the shortest period, bits per second, or null when not run. */
        public final Double modelledCapacity;
        public final Double measuredCapacity;
        public final String dmaFromAnotherGuest;

        Summary(Integer tcbLines, boolean sharesDriver, Double modelled, Double measured, String dma) {
            this.tcbLines = tcbLines;
            this.sharesDriver = sharesDriver;
            this.modelledCapacity = modelled;
            this.measuredCapacity = measured;
            this.dmaFromAnotherGuest = dma;
        }
    }

    /** The shortest bit period of a covert result's channel runs, µs: the one its summaries and chart show. */
    private static long shortestPeriod(JsonNode root) {
        long shortest = Long.MAX_VALUE;
        for (JsonNode c : root.path("channel")) {
            shortest = Math.min(shortest, c.path("periodMicros").asLong());
        }
        return shortest;
    }

    /** Placement id → its summary, from a covert result. */
    public static Map<String, Summary> summaries(JsonNode root) {
        Map<String, Summary> out = new LinkedHashMap<>();
        long shortest = shortestPeriod(root);
        for (JsonNode t : root.path("trustedBase")) {
            String p = t.path("placement").asText();
            Double modelled = null;
            Double measured = null;
            for (JsonNode c : root.path("channel")) {
                if (c.path("placement").asText().equals(p) && c.path("scheduler").asText().equals("fifo")
                    && c.path("periodMicros").asLong() == shortest) {
                    String clock = c.path("clock").asText();
                    if (clock.equals("modelled")) {
                        modelled = c.path("capacityBitsPerSecond").asDouble();
                    } else if (clock.equals("threaded") || measured == null) {
                        measured = c.path("capacityBitsPerSecond").asDouble();
                    }
                }
            }
            out.put(p, new Summary(t.path("lines").isNumber() ? t.path("lines").asInt() : null, t.path("sharesDriver").asBoolean(),
                modelled, measured, t.path("dmaFromAnotherGuest").asText()));
        }
        return out;
    }

    /** The Markdown tables; {@code chart} names the capacity chart beside it, or null. */
    public static String markdown(JsonNode root, String chart) {
        StringBuilder md = new StringBuilder();
        JsonNode s = root.path("settings");
        md.append(String.format(Locale.ROOT, "Covert channel and traffic-flow analysis, %s, commit %s, %s.%n%n",
            root.path("jvm").asText(), root.path("commit").asText(), root.path("stamp").asText()));
        md.append(String.format(Locale.ROOT, "Sender: %d reads of %d KiB in flight in a 1-period, idle in a 0-period; receiver:"
                + " %d KiB reads one after the other, counting completions per period; %d preamble bits, %d message bits"
                + " (seed %d); cost profile %s.%n%n", s.path("senderDepth").asInt(), s.path("senderBytes").asInt() >> 10,
            s.path("probeBytes").asInt() >> 10, s.path("preamble").asInt(), s.path("bits").asInt(), s.path("seed").asLong(),
            s.path("costProfile").asText()));
        Map<String, List<JsonNode>> groups = new LinkedHashMap<>();
        for (JsonNode c : root.path("channel")) {
            groups.computeIfAbsent(c.path("clock").asText() + " clock, bit period " + c.path("periodMicros").asLong() + " µs",
                k -> new ArrayList<>()).add(c);
        }
        for (Map.Entry<String, List<JsonNode>> g : groups.entrySet()) {
            md.append("### Covert channel, ").append(g.getKey()).append("\n\n");
            md.append("| placement | driver shared | scheduler | R bits/s | p | C bits/s | I bits/s | C bound bits/s | receiver I/O per s"
                + " | receiver cost vs fifo | sender I/O per s | receiver p50 µs | p99 µs | padding | overruns |\n");
            md.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (JsonNode c : g.getValue()) {
                md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.0f | %.3f | %.1f | %.1f | %.1f | %,.0f | %s | %,.0f | %.2f | %.2f | %.0f%% | %d |%n",
                    c.path("placement").asText(), c.path("sharedDriver").asBoolean() ? "yes" : "no", c.path("scheduler").asText(),
                    c.path("rawBitsPerSecond").asDouble(), c.path("errorRate").asDouble(), c.path("capacityBitsPerSecond").asDouble(),
                    c.path("mutualInformationBitsPerSecond").asDouble(), c.path("capacityBoundBitsPerSecond").asDouble(),
                    c.path("receiverIosPerSecond").asDouble(), percent(c.path("receiverCostVsFifo")),
                    c.path("senderIosPerSecond").asDouble(), c.path("receiverP50Micros").asDouble(), c.path("receiverP99Micros").asDouble(),
                    100 * c.path("paddingShare").asDouble(), c.path("overruns").asLong()));
            }
            md.append('\n');
        }
        md.append("Clocks: modelled, the cost profile's time on the driver's timeline (deterministic); measured, each read's"
            + " wall time in this JVM on the same timeline; threaded, the receiver's wall time while the device and the partition"
            + " run on threads of their own and the sender's reads are really in flight (the drivers' own FIFO; both guests share"
            + " the guest CPU's thread). ");
        md.append("R: one bit per period. p: the message's bit error rate. C = R (1 − H(p)). I: R times the mutual information of"
            + " the confusion matrix. C bound: the most C that p and this many bits cannot rule out at 99.9 %: a channel that"
            + " carries nothing still shows up to this. Receiver cost: its I/O per second against FIFO's in the same"
            + " placement, clock and period. Padding: the driver's time spent on constant-rate's dummy reads.\n\n");
        if (chart != null) {
            md.append("![capacity against the receiver's throughput cost](").append(chart).append(")\n\n");
        }
        if (root.path("traffic").size() > 0) {
            JsonNode first = root.path("traffic").get(0);
            md.append(String.format(Locale.ROOT, "### Traffic-flow analysis by a hostile io-partition back end: which of %d files a guest reads%n%n",
                first.path("files").asInt()));
            md.append("| guest's defence | accesses | attacker's accuracy | chance | chance's 99.9 % bound | requests per access"
                + " | useful MB/s modelled | cost | useful MB/s measured | cost |\n");
            md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (JsonNode t : root.path("traffic")) {
                md.append(String.format(Locale.ROOT, "| %s | %d | %.3f | %.3f | %.3f | %.1f | %.1f | %s | %.1f | %s |%n",
                    t.path("defence").asText(), t.path("accesses").asInt(), t.path("accuracy").asDouble(), t.path("chance").asDouble(),
                    t.path("chanceBound").asDouble(), t.path("requestsPerAccess").asDouble(),
                    t.path("usefulBytesPerSecondModelled").asDouble() / 1e6, percent(t.path("modelledCostVsNone")),
                    t.path("usefulBytesPerSecondMeasured").asDouble() / 1e6, percent(t.path("measuredCostVsNone"))));
            }
            md.append('\n');
        }
        md.append("### Trusted base: what a guest of each placement must trust besides itself\n\n");
        md.append("| placement | TCB lines | TCB lines with sHype | driver shared | DMA from another guest | parts |\n|---|---:|---:|---|---|---|\n");
        for (JsonNode t : root.path("trustedBase")) {
            List<String> parts = new ArrayList<>();
            t.path("parts").forEach(x -> parts.add(x.asText()));
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s |%n", t.path("placement").asText(),
                lines(t.path("lines")), lines(t.path("linesWithShype")),
                t.path("sharesDriver").asBoolean() ? "yes" : "no", t.path("dmaFromAnotherGuest").asText(), String.join("; ", parts)));
        }
        md.append("\nTCB lines: non-blank, non-comment lines of this project's classes that run in those contexts"
            + " (`TrustedBase`; `TrustedBaseTest` checks the lists against the code that runs there). For `native`, the OS"
            + " kernel its applications trust. With sHype (`mac` ste or chwall-ste, the same code): also its access-control"
            + " module in the hypervisor and the Policy Manager's compiler in dom0; native has no hypervisor to add them to.\n");
        return md.toString();
    }

    /** A line count, or a dash when the run had no sources to count (or, for sHype, predates the count). */
    private static String lines(JsonNode n) {
        return n.isNumber() ? String.format(Locale.ROOT, "%,d", n.asInt()) : "—";
    }

    private static String percent(JsonNode n) {
        return n.isNumber() ? String.format(Locale.ROOT, "%+.0f%%", 100 * n.asDouble()) : "—";
    }

    /**
     * Capacity on the modelled clock at the shortest period against the receiver's throughput cost
     * relative to FIFO: one series per placement, one point per scheduler.
     */
    public static void capacityChart(JsonNode root, Path png) throws IOException {
        long shortest = shortestPeriod(root);
        XYChart chart = new XYChartBuilder().width(1200).height(640)
            .title("Covert capacity against what the scheduler costs the receiver (modelled clock, bit period " + shortest + " µs)")
            .xAxisTitle("receiver's I/O per second lost against FIFO (%)").yAxisTitle("capacity C (bits per second)").build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setChartBackgroundColor(Color.WHITE).setPlotBackgroundColor(Color.WHITE);
        chart.getStyler().setMarkerSize(10);
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (JsonNode c : root.path("channel")) {
            if (!c.path("clock").asText().equals("modelled") || c.path("periodMicros").asLong() != shortest) {
                continue;
            }
            series.computeIfAbsent(c.path("placement").asText(), k -> new ArrayList<>())
                .add(new double[] {100 * c.path("receiverCostVsFifo").asDouble(), c.path("capacityBitsPerSecond").asDouble()});
        }
        int k = 0;
        for (Map.Entry<String, List<double[]>> e : series.entrySet()) {
            double[] x = new double[e.getValue().size()];
            double[] y = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = e.getValue().get(i)[0];
                y[i] = e.getValue().get(i)[1];
            }
            XYSeries s = chart.addSeries(e.getKey(), x, y);
            s.setMarkerColor(COLOURS[k % COLOURS.length]);
            s.setMarker(k % 2 == 0 ? SeriesMarkers.CIRCLE : SeriesMarkers.DIAMOND);
            k++;
        }
        if (series.isEmpty()) {
            chart.addSeries("no modelled runs", new double[] {0}, new double[] {0});
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
