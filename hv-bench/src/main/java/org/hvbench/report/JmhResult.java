package org.hvbench.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * One entry of a JMH JSON result file: which benchmark with which parameters, its score with the
 * 99.9% confidence half-width JMH computes ({@code NaN} when it could not), and its secondary results.
 * {@code jvm} is the java that ran the forks (JMH's {@code -jvm}); the versions are that JVM's.
 */
public record JmhResult(String benchmark, String mode, Map<String, String> params, Metric primary,
                        Map<String, Metric> secondary, String jdkVersion, String vmName, String vmVersion,
                        int forks, int iterations, String source, String jvm) {

    /** A score, its error (99.9% half-width, {@code NaN} when unknown) and unit. */
    public record Metric(double score, double error, String unit) {
        static Metric of(JsonNode n) {
            return new Metric(number(n.get("score")), number(n.get("scoreError")), n.path("scoreUnit").asText(""));
        }

        private static double number(JsonNode n) {
            if (n == null || n.isNull()) {
                return Double.NaN;
            }
            return n.isNumber() ? n.asDouble() : parse(n.asText());
        }

        private static double parse(String text) {
            try {
                return Double.parseDouble(text);
            } catch (NumberFormatException e) {
                return Double.NaN;
            }
        }
    }

    /** The simple name, e.g. {@code ArchitectureBench.io}. */
    public String simpleName() {
        String[] parts = benchmark.split("\\.");
        return parts.length < 2 ? benchmark : parts[parts.length - 2] + "." + parts[parts.length - 1];
    }

    public String param(String name) {
        return params.get(name);
    }

    /** A secondary result by name, or {@code null}. */
    public Metric secondary(String name) {
        return secondary.get(name);
    }

    /** Reads every entry of a JMH JSON file. */
    public static List<JmhResult> read(Path file) throws IOException {
        // FAIL_ON_TRAILING_TOKENS: a file of two arrays (a bad merge) is refused, not read in part.
        JsonNode root;
        try {
            root = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException(file + " is not one JSON document: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isArray()) {
            throw new IOException(file + " is not a JMH JSON result file (expected an array of results)");
        }
        List<JmhResult> out = new ArrayList<>();
        for (JsonNode n : root) {
            Map<String, String> params = new LinkedHashMap<>();
            JsonNode p = n.path("params");
            for (Iterator<Map.Entry<String, JsonNode>> it = p.properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                params.put(e.getKey(), e.getValue().asText());
            }
            Map<String, Metric> secondary = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = n.path("secondaryMetrics").properties().iterator(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                secondary.put(e.getKey(), Metric.of(e.getValue()));
            }
            out.add(new JmhResult(n.path("benchmark").asText(), n.path("mode").asText(), params,
                Metric.of(n.path("primaryMetric")), secondary, n.path("jdkVersion").asText(""), n.path("vmName").asText(""),
                n.path("vmVersion").asText(""), n.path("forks").asInt(0), n.path("measurementIterations").asInt(0),
                file.getFileName().toString(), n.path("jvm").asText("")));
        }
        return out;
    }
}
