package org.hvbench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

import org.junit.jupiter.api.Test;

/** sHype against no access control, from the committed mac profile (a real run, JDK 17). */
class MacTableTest {
    private static final Path MAC_RUN = Paths.get("..", "results", "debian-17.0.15", "mac-20261207T162541Z.json");

    @Test
    void eachPlacementGetsItsRatiosFromTheSameRunAndThePooledMeanIsTheirMean() throws Exception {
        List<JmhResult> results = JmhResult.read(MAC_RUN);
        List<MacTable.Row> rows = MacTable.build(results);
        assertEquals(9, rows.size(), "every placement of the profile");
        double sum = 0;
        for (MacTable.Row r : rows) {
            assertEquals(3, r.byMode().size(), r.placement() + ": off, ste and chwall-ste");
            double expected = PlacementTable.ios(r.byMode().get("off")) / PlacementTable.ios(r.byMode().get("ste"));
            assertEquals(expected, r.ratio("ste")[0], 1e-12, r.placement());
            assertTrue(r.ratio("ste")[1] > 0, "the quotient carries both errors");
            sum += r.placement().equals("native") ? 0 : expected;
        }
        double[] pooled = MacTable.pooled(rows, "ste");
        assertEquals(sum / 8, pooled[0], 1e-12, "native, the control, is not pooled");
        assertEquals(8, (int) pooled[2]);
        String md = MacTable.markdown(rows);
        assertTrue(md.contains("| io-partition | 477,476 ± 31,640 | "), md);
        assertTrue(md.contains("ste: mean time per I/O × off "), md);
    }

    @Test
    void theHooksAtBindTimeLeaveTheCountedColumnsEqual() throws Exception {
        for (MacTable.Row r : MacTable.build(JmhResult.read(MAC_RUN))) {
            double off = r.byMode().get("off").secondary("crossings").score() / PlacementTable.ios(r.byMode().get("off"));
            double ste = r.byMode().get("ste").secondary("crossings").score() / PlacementTable.ios(r.byMode().get("ste"));
            assertEquals(off, ste, 1e-6, r.placement() + ": crossings per I/O");
        }
    }

    @Test
    void besideTheCostStandsWhatSHypeAddsToEachTrustedBase() throws Exception {
        List<MacTable.Row> rows = MacTable.build(JmhResult.read(MAC_RUN));
        Path src = org.hvbench.core.arch.TrustedBase.findSourceRoot(Paths.get(""));
        assertTrue(src != null, "the tests run inside the checkout");
        for (MacTable.Row r : rows) {
            org.hvbench.core.arch.Placement p = org.hvbench.core.arch.Placement.parse(r.placement());
            int off = org.hvbench.core.arch.TrustedBase.lines(src, p);
            int on = org.hvbench.core.arch.TrustedBase.lines(src, p, "ste");
            if (r.placement().equals("native")) {
                assertEquals(off, on, "native has no hypervisor to put the module in");
            } else {
                assertTrue(on > off, r.placement() + ": the module and the Policy Manager join the trusted base");
            }
            String cell = String.format(java.util.Locale.ROOT, "| %,d → %,d |", off, on);
            String md = MacTable.markdown(rows, src);
            assertTrue(md.lines().anyMatch(l -> l.startsWith("| " + r.placement() + " |") && l.endsWith(cell)), r.placement() + ": " + md);
        }
        assertTrue(MacTable.markdown(rows, null).lines().filter(l -> l.startsWith("| io-partition |")).allMatch(l -> l.endsWith("| — |")),
            "outside a checkout the column says it could not count");
    }

    @Test
    void resultsWithoutTheMacSettingGiveNoTable() throws Exception {
        List<JmhResult> results = JmhResult.read(PlacementTableTest.resource("quick-jdk17.json"));
        assertTrue(MacTable.build(results).isEmpty());
        assertEquals("", MacTable.markdown(MacTable.build(results)));
    }
}
