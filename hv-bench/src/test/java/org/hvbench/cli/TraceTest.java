package org.hvbench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.hvbench.core.arch.Placement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

class TraceTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Trace.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void jsonHasTheDesignSchemaAndTheNativeSteps() throws Exception {
        assertEquals(0, run("native", "--format", "json"));
        JsonNode root = new ObjectMapper().readTree(out());
        assertEquals("native", root.get("placement").asText());
        assertEquals(1, root.get("depth").asInt());
        assertEquals(5, root.get("total").asInt());
        assertEquals(0, root.get("idleSwitches").asInt());
        List<String> steps = new ArrayList<>();
        for (JsonNode step : root.get("crossings")) {
            assertEquals(steps.size() + 1, step.get("step").asInt());
            assertTrue(step.get("what").asText().length() > 10, "every step says what it does");
            steps.add(step.get("kind").asText() + " " + step.get("from").asText() + "->" + step.get("to").asText());
        }
        assertEquals(List.of("SYSCALL app->kernel", "DEVICE_START kernel->device", "SYSRET kernel->app",
            "DEVICE_IRQ device->kernel", "UPCALL kernel->app"), steps);
    }

    @Test
    void textNumbersEveryStepAndSaysThePapersCount() {
        assertEquals(0, run("hypervisor-trap", "--operation", "write"));
        String text = out();
        assertTrue(text.contains("  2  VMEXIT       guest-kernel -> hypervisor"), text);
        assertTrue(text.contains("  8  UPCALL       guest-kernel -> guest-app"), text);
        assertTrue(text.contains("8 crossings (8.00 per I/O; the paper: 8 per I/O)"), text);
    }

    @Test
    void atDepth32OneBatchCostsTheCrossingsOfOneIo() throws Exception {
        assertEquals(0, run("hypervisor-pv", "--depth", "32", "--format", "json"));
        JsonNode root = new ObjectMapper().readTree(out());
        assertEquals(32, root.get("depth").asInt());
        assertEquals(8, root.get("total").asInt());
    }

    @Test
    void svgIsWellFormedWithALanePerContextAndAnArrowPerCrossing() throws Exception {
        assertEquals(0, run("hypervisor-pv", "--format", "svg"));
        Document svg = DocumentBuilderFactory.newInstance().newDocumentBuilder()
            .parse(new java.io.ByteArrayInputStream(out.toByteArray()));
        assertEquals("svg", svg.getDocumentElement().getNodeName());
        assertEquals(4, svg.getElementsByTagName("rect").getLength() - 1, "four lanes (plus the background)");
        int arrows = 0;
        for (int i = 0; i < svg.getElementsByTagName("line").getLength(); i++) {
            if (svg.getElementsByTagName("line").item(i).getAttributes().getNamedItem("marker-end") != null) {
                arrows++;
            }
        }
        assertEquals(8, arrows);
    }

    @Test
    void anUnknownPlacementListsTheKnownOnesAndExits2() {
        assertEquals(2, run("xen-dom0"));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("placement: 'xen-dom0' is unknown; known placements: native, hypervisor-pv, hypervisor-trap"), e);
    }

    @Test
    void badOptionsExit2WithTheOptionNamed() {
        assertEquals(2, run("native", "--depth", "0"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--depth: '0' is not allowed"));
        assertEquals(2, run("native", "--format", "pdf"));
        assertEquals(2, run("native", "--size", "1000"));
        assertEquals(2, run("native", "--cost-profile", "fast"));
        assertEquals(2, run());
        assertEquals(0, run("--help"));
    }
    @Test
    void allWritesOneWellFormedFilePerPlacement(@TempDir Path dir) throws Exception {
        Path traces = dir.resolve("traces");
        assertEquals(0, run("all", "--format", "json", "--out", traces.toString()));
        for (String id : Placement.ids()) {
            Path file = traces.resolve(id + "-depth1.json");
            assertTrue(Files.isRegularFile(file), "no trace for " + id);
            JsonNode trace = new ObjectMapper().readTree(file.toFile());
            assertTrue(trace.get("total").asLong() > 0, id + " has crossings");
        }
        assertEquals(Placement.ids().size(), Files.list(traces).count(), "one file per placement and nothing else");
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("native-depth1.json"), "the written files are listed");
    }

    @Test
    void allWithoutOutIsRefused() {
        assertEquals(2, run("all", "--format", "svg"));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("give --out DIR"));
    }
}
