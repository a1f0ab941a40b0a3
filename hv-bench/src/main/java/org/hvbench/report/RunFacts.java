package org.hvbench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * How a result file was made, as the file itself and its companion say, never as the machine that
 * draws the report is: the JVM and run settings JMH wrote into each entry, and the machine facts
 * bench.sh records beside the results ({@code <profile>-<ts>.machine.json}), when there are any.
 */
record RunFacts(String jvm, String vmName, String vmVersion, String jdkVersion, List<String> jvmArgs, String forks,
                String warmup, String measurement, String threads, Machine machine) {

    /**
     * bench.sh's machine file; a field is {@code null} where the machine did not say, and
     * {@code problem} says why a file could not be read (the results are still good without it).
     */
    record Machine(String cpuModel, Integer logicalCpus, Integer physicalCores, Long memoryKiB, String kernel, String arch,
                   String os, String problem) {
        /** e.g. "Intel(R) Xeon(R) ..., 2 logical CPUs (2 cores), 7.8 GiB memory, Linux 6.1.0 x86_64, Debian GNU/Linux 12". */
        String describe() {
            if (problem != null) {
                return "(machine file unreadable: " + problem + ")";
            }
            List<String> parts = new ArrayList<>();
            if (cpuModel != null) {
                parts.add(cpuModel);
            }
            if (logicalCpus != null) {
                parts.add(logicalCpus + " logical CPUs" + (physicalCores == null ? "" : " (" + physicalCores + " cores)"));
            }
            if (memoryKiB != null) {
                parts.add(String.format(Locale.ROOT, "%.1f GiB memory", memoryKiB / (1024.0 * 1024.0)));
            }
            if (kernel != null) {
                parts.add(kernel + (arch == null ? "" : " " + arch));
            }
            if (os != null) {
                parts.add(os);
            }
            return parts.isEmpty() ? "(the machine file says nothing)" : String.join(", ", parts);
        }
    }

    /** The companion machine file of a result file: {@code x.json} has {@code x.machine.json}. */
    static Path machineFile(Path results) {
        return results.resolveSibling(results.getFileName().toString().replaceFirst("\\.json$", "") + ".machine.json");
    }

    /**
     * Reads the run facts of a JMH JSON file (settings that differ between entries are listed
     * together) and its machine file, if there is one.
     *
     * @throws IOException when the results file cannot be read or holds no results
     */
    static RunFacts read(Path results) throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode root = json.readTree(results.toFile());
        if (root == null || !root.isArray() || root.isEmpty()) {
            throw new IOException(results + " holds no JMH results");
        }
        TreeSet<String> forks = new TreeSet<>();
        TreeSet<String> warmup = new TreeSet<>();
        TreeSet<String> measurement = new TreeSet<>();
        TreeSet<String> threads = new TreeSet<>();
        for (JsonNode n : root) {
            forks.add(n.path("forks").asText());
            warmup.add(n.path("warmupIterations").asText() + " × " + n.path("warmupTime").asText());
            measurement.add(n.path("measurementIterations").asText() + " × " + n.path("measurementTime").asText());
            threads.add(n.path("threads").asText());
        }
        JsonNode first = root.get(0);
        List<String> args = new ArrayList<>();
        first.path("jvmArgs").forEach(a -> args.add(a.asText()));
        Path m = machineFile(results);
        Machine machine = Files.isRegularFile(m) ? machine(json, m) : null;
        return new RunFacts(first.path("jvm").asText(""), first.path("vmName").asText(""), first.path("vmVersion").asText(""),
            first.path("jdkVersion").asText(""), List.copyOf(args), String.join(" or ", forks), String.join(" or ", warmup),
            String.join(" or ", measurement), String.join(" or ", threads), machine);
    }

    private static Machine machine(ObjectMapper json, Path file) {
        JsonNode n;
        try {
            n = json.readTree(file.toFile());
        } catch (IOException e) {
            return unreadable(file + ": " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            return unreadable(file + " is not a JSON object");
        }
        return new Machine(text(n, "cpuModel"), n.hasNonNull("logicalCpus") ? n.get("logicalCpus").asInt() : null,
            n.hasNonNull("physicalCores") ? n.get("physicalCores").asInt() : null,
            n.hasNonNull("memoryKiB") ? n.get("memoryKiB").asLong() : null, text(n, "kernel"), text(n, "arch"), text(n, "os"),
            null);
    }

    private static Machine unreadable(String problem) {
        return new Machine(null, null, null, null, null, null, null, problem);
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() || v.asText().isBlank() ? null : v.asText();
    }
}
