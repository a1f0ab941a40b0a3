package org.hvbench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.hvbench.report.CovertReport;
import org.hvbench.report.PlacementTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/covert.sh's CLI: what it writes, what it refuses, and how the placement table takes it up. */
class CovertTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Covert.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void aSmallRunWritesTheJsonTheTablesAndTheChart(@TempDir Path dir) throws Exception {
        assertEquals(0, run("io-partition", "passthrough", "--scheduler", "time-slotted", "--period", "500", "--clock", "modelled",
            "--bits", "32", "--accesses", "16", "--out", dir.toString(), "--stamp", "20261207T120000Z", "--commit", "abc1234"),
            err.toString(StandardCharsets.UTF_8));
        JsonNode root = new ObjectMapper().readTree(dir.resolve("covert-20261207T120000Z.json").toFile());
        // FIFO runs too (every cost is against it): 2 placements x 2 schedulers x 1 period x 1 clock.
        assertEquals(4, root.path("channel").size());
        assertEquals("abc1234", root.path("commit").asText());
        assertEquals(4, root.path("traffic").size(), "one row per defence");
        assertEquals(9, root.path("trustedBase").size(), "one row per placement");
        JsonNode fifo = root.path("channel").get(0);
        assertEquals("fifo", fifo.path("scheduler").asText());
        assertTrue(fifo.path("capacityBitsPerSecond").asDouble() > 0.9 * fifo.path("rawBitsPerSecond").asDouble(), fifo.toString());
        assertTrue(Files.size(dir.resolve("covert-20261207T120000Z-capacity.png")) > 1000);
        String md = Files.readString(dir.resolve("covert-20261207T120000Z.md"));
        assertTrue(md.contains("### Covert channel, modelled clock, bit period 500 µs"), md);
        assertTrue(md.contains("| io-partition | yes | time-slotted |"), md);
        assertTrue(md.contains("| placement | TCB lines | TCB lines with sHype | driver shared |"), md);
        for (JsonNode t : root.path("trustedBase")) {
            // sHype adds the module and the Policy Manager where there is a hypervisor; native has none.
            int off = t.path("lines").asInt();
            int on = t.path("linesWithShype").asInt();
            assertTrue(t.path("placement").asText().equals("native") ? on == off : on > off, t.toString());
        }

        Map<String, CovertReport.Summary> s = CovertReport.summaries(root);
        assertTrue(s.get("io-partition").sharesDriver);
        assertTrue(s.get("io-partition").tcbLines > s.get("passthrough").tcbLines);
        String cells = PlacementTable.securityCells("io-partition", s);
        assertTrue(cells.contains("yes") && cells.contains("no: only the trusted driver's checks"), cells);
        assertTrue(PlacementTable.securityCells("native + IOMMU strict", s).contains("no guests"));
    }

    @Test
    void badArgumentsAreNamedWithWhatIsAllowed() {
        for (List<String> bad : List.of(List.of("native"), List.of("--scheduler", "lottery"), List.of("--period", "5"),
            List.of("--bits", "many"), List.of("--clock", "sundial"), List.of("--files", "1"), List.of("--frobnicate"))) {
            out.reset();
            err.reset();
            assertEquals(2, run(bad.toArray(new String[0])), bad.toString());
            String e = err.toString(StandardCharsets.UTF_8);
            assertTrue(e.startsWith("covert: ") && e.contains("usage: covert.sh"), e);
        }
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("'--frobnicate' is not an option"), e);
    }
}
