package org.hvbench.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Draws a trace as an SVG sequence diagram: one lane per context in order of first appearance
 * (application on the left, device on the right), time running down, one numbered arrow per
 * crossing, and the numbered descriptions beside it, as the paper's figures number their steps.
 */
final class SequenceDiagram {
    private static final int LANE_WIDTH = 150;
    private static final int LEFT = 30;
    private static final int TOP = 70;
    private static final int STEP = 34;
    private static final int NOTES_WIDTH = 560;

    private SequenceDiagram() {
    }

    static String render(Trace.Result r) {
        List<String> lanes = new ArrayList<>();
        for (Trace.Step s : r.steps()) {
            addLane(lanes, s.from());
            addLane(lanes, s.to());
        }
        lanes.sort((a, b) -> Integer.compare(rank(a), rank(b)));
        int lanesWidth = LEFT + lanes.size() * LANE_WIDTH;
        int width = lanesWidth + NOTES_WIDTH;
        int height = TOP + (r.steps().size() + 1) * STEP + 40;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\""
            + " viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">%n", width, height, width, height));
        b.append("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\""
            + " orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#333\"/></marker></defs>\n");
        b.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">%s: %d crossings"
            + " for %d I/O%s (Karger &amp; Safford 2008, %s: %d %s)</text>%n", LEFT, escape(r.placement().id()), r.total(),
            r.depth(), r.depth() == 1 ? "" : "s", escape(r.placement().paperFigure()), r.placement().paperCrossings(),
            r.placement().paperUnit()));
        for (int i = 0; i < lanes.size(); i++) {
            int x = laneX(i);
            b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"26\" rx=\"4\" fill=\"%s\""
                + " stroke=\"#333\"/>%n", x - 62, TOP - 34, 124, fill(lanes.get(i))));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", x, TOP - 16,
                escape(lanes.get(i))));
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\""
                + " stroke-dasharray=\"4 4\"/>%n", x, TOP - 8, x, height - 30));
        }
        for (Trace.Step s : r.steps()) {
            int y = TOP + s.step() * STEP;
            int from = laneX(lanes.indexOf(s.from()));
            int to = laneX(lanes.indexOf(s.to()));
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\""
                + " stroke-width=\"1.6\" marker-end=\"url(#arrow)\"/>%n", from, y, to, y));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">%d %s</text>%n",
                (from + to) / 2, y - 5, s.step(), escape(s.kind())));
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\">%d. %s</text>%n",
                lanesWidth + 10, y + 4, s.step(), escape(s.what())));
        }
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\">%d idle switches;"
            + " modelled %.0f ns per I/O (%s)</text>%n", LEFT, height - 10, r.idleSwitches(), r.modelledNs() / r.depth(),
            escape(r.costProfile())));
        b.append("</svg>\n");
        return b.toString();
    }

    private static void addLane(List<String> lanes, String name) {
        if (!lanes.contains(name)) {
            lanes.add(name);
        }
    }

    /** Applications left, then kernels, the hypervisor, devices right. */
    private static int rank(String context) {
        if (context.equals("app") || context.endsWith("-app")) {
            return context.startsWith("guest") || context.equals("app") ? 0 : 1;
        }
        if (context.equals("emulator") || context.endsWith("-emulator")) {
            return 2;
        }
        if (context.equals("kernel") || context.endsWith("-kernel")) {
            return context.startsWith("guest") || context.equals("kernel") ? 3 : 4;
        }
        if (context.equals("hypervisor")) {
            return 5;
        }
        return 6;
    }

    private static String fill(String context) {
        switch (rank(context)) {
            case 0:
            case 1:
            case 2:
                return "#dbeafe";
            case 3:
            case 4:
                return "#dcfce7";
            case 5:
                return "#fde68a";
            default:
                return "#e5e7eb";
        }
    }

    private static int laneX(int index) {
        return LEFT + LANE_WIDTH / 2 + index * LANE_WIDTH;
    }

    static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
