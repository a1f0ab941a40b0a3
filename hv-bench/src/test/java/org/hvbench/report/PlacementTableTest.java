package org.hvbench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The table from real JMH output (trimmed of raw data): values, ratios, errors, NaN, a missing benchmark. */
class PlacementTableTest {
    static Path resource(String name) throws URISyntaxException {
        return Path.of(PlacementTableTest.class.getResource("/jmh/" + name).toURI());
    }

    @Test
    void perIoValuesAreCountersOverIos() throws Exception {
        List<PlacementTable.Group> groups = PlacementTable.build(JmhResult.read(resource("quick-jdk17.json")));
        assertEquals(1, groups.size());
        PlacementTable.Group g = groups.get(0);
        assertEquals(List.of("native", "hypervisor-pv", "hypervisor-trap"), g.rows().stream().map(PlacementTable.Row::placement).toList());
        PlacementTable.Row pv = g.row("hypervisor-pv");
        assertEquals(8.0, pv.crossingsPerIo(), 1e-6);
        assertEquals(8, pv.paperCrossings());
        assertEquals(10.0, pv.tlbMissesPerIo(), 1e-6);
        assertEquals(2358106627.567 / 587461.729, pv.modelledNsPerIo(), 1e-3);
        assertEquals(5.0, g.row("native").crossingsPerIo(), 1e-6);
    }

    @Test
    void ratioToNativeCarriesThePropagatedError() throws Exception {
        PlacementTable.Group g = PlacementTable.build(JmhResult.read(resource("quick-jdk17.json"))).get(0);
        PlacementTable.Row nat = g.row("native");
        PlacementTable.Row pv = g.row("hypervisor-pv");
        assertEquals(1.0, nat.costVsNative(), 0);
        assertEquals(0.0, nat.costVsNativeError(), 0, "native against itself has no error");
        double ratio = nat.ios() / pv.ios();
        assertEquals(ratio, pv.costVsNative(), 1e-9);
        double rel = Math.hypot(nat.iosError() / nat.ios(), pv.iosError() / pv.ios());
        assertEquals(ratio * rel, pv.costVsNativeError(), 1e-9);
        assertEquals(19991542.385 / 2002616.151, g.nativeOverRawCopy(), 1e-6);
    }

    @Test
    void missingErrorsAreSaidAndAllocationIsPerIo() throws Exception {
        PlacementTable.Group g = PlacementTable.build(JmhResult.read(resource("two-iterations-no-error.json"))).get(0);
        assertTrue(Double.isNaN(g.row("native").iosError()));
        assertTrue(Double.isNaN(g.row("hypervisor-pv").costVsNativeError()));
        assertEquals(0.012, g.row("hypervisor-pv").allocBytesPerIo(), 0.001);
        String md = PlacementTable.markdown(List.of(g));
        assertTrue(md.contains("(no error: too few samples)"), md);
    }

    @Test
    void withoutNativeOrRawCopyTheRatiosAreLeftEmpty() throws Exception {
        List<JmhResult> onlyPv = JmhResult.read(resource("quick-jdk17.json")).stream()
            .filter(r -> "hypervisor-pv".equals(r.param("placement"))).toList();
        PlacementTable.Group g = PlacementTable.build(onlyPv).get(0);
        assertTrue(Double.isNaN(g.row("hypervisor-pv").costVsNative()));
        assertNull(g.rawCopy());
        assertTrue(Double.isNaN(g.nativeOverRawCopy()));
        assertTrue(PlacementTable.markdown(List.of(g)).contains("| hypervisor-pv | on (strict) | 8.00 | 8 |  |"));
    }

    @Test
    void theCommandLineReadsFilesAndRefusesBadOnes() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
        assertEquals(0, Report.run(new String[] {"table", resource("quick-jdk17.json").toString()}, o, e));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("A native I/O takes 10.0× the time of a bare copy"));
        assertEquals(1, Report.run(new String[] {"table", "/nonexistent.json"}, o, e));
        assertEquals(2, Report.run(new String[] {"tabel"}, o, e));
    }

    @Test
    void aFileOfTwoArraysIsRefusedNotReadInPart(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        String one = java.nio.file.Files.readString(resource("quick-jdk17.json"));
        Path two = dir.resolve("two-arrays.json");
        java.nio.file.Files.writeString(two, one + "\n,\n" + one);
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> JmhResult.read(two));
        assertTrue(e.getMessage().contains("is not one JSON document"), e.getMessage());
    }

    @Test
    void otherBenchmarksGetATableEachWithCountersPerOperation() throws Exception {
        List<JmhResult> results = JmhResult.read(resource("iommu-quick-jdk17.json"));
        String md = OtherResults.markdown(results);
        assertTrue(md.contains("### IommuBench.mapUnmap"), md);
        assertTrue(md.contains("### IommuBench.translate"), md);
        JmhResult strict = results.stream().filter(r -> "strict".equals(r.param("protection"))).findFirst().orElseThrow();
        double modelledPerOp = strict.secondary("modelledNs").score() / strict.primary().score();
        // One strict map, access and unmap: an IOTLB miss, a 4-level walk and an invalidation, current-x86.
        assertEquals(261.3 + 4 * 4.67 + 2000, modelledPerOp, 0.5);
        assertTrue(md.contains(String.format(java.util.Locale.ROOT, "%,.0f", modelledPerOp)), md);
        assertTrue(md.contains("| hit | 4 | 4k | 7."), "a small score keeps its decimals: " + md);
        assertTrue(md.contains("modelledNs per op") && !md.contains("| ops per op"), "counters per operation: " + md);
        assertTrue(PlacementTable.markdown(PlacementTable.build(results)).contains("(no ArchitectureBench results)"));
    }

    @Test
    void aGroupsCountersArePerSecondWithTheirErrorNotPerCall() throws Exception {
        List<JmhResult> results = JmhResult.read(resource("ring-jdk17.json"));
        String md = OtherResults.markdown(results);
        JmhResult ring = results.stream().filter(r -> r.simpleName().equals("RingBench.sharedRing")).findFirst().orElseThrow();
        assertTrue(OtherResults.isGroup(ring), "producer and consumer calls add up to the group's score");
        JmhResult.Metric transfers = ring.secondary("transfers");
        String rate = OtherResults.score(transfers.score(), transfers.error());
        assertTrue(md.contains("| 16 | 112 | check | ") && md.contains(" | " + rate + " |"), "transfers per second ± error: " + md);
        assertTrue(md.contains("transfers per s ± 99.9%") && !md.contains("transfers per op"), md);
        JmhResult delivery = results.stream().filter(r -> r.simpleName().equals("EventChannelBench.deliver")).findFirst().orElseThrow();
        assertFalse(OtherResults.isGroup(delivery), "one method, one thread");
        JmhResult queue = results.stream().filter(r -> r.simpleName().equals("RingBench.spscArrayQueue")).findFirst().orElseThrow();
        JmhResult notAGroup = new JmhResult(queue.benchmark(), queue.mode(), queue.params(),
            new JmhResult.Metric(2 * queue.primary().score(), queue.primary().error(), queue.primary().unit()), queue.secondary(),
            queue.jdkVersion(), queue.vmName(), queue.vmVersion(), queue.forks(), queue.iterations(), queue.source(), queue.jvm());
        assertFalse(OtherResults.isGroup(notAGroup), "methods that do not add up to the score are counters, not a group");
    }

    /**
     * A paper run (placements with their systems' IOMMU, then native with the IOMMU on): every ratio
     * divides by bare native, and native with the IOMMU on becomes two rows of the same table.
     */
    @Test
    void timesNativeDividesByBareNativeAndNativeWithAnIommuIsARow() throws Exception {
        List<PlacementTable.Group> groups = PlacementTable.build(JmhResult.read(resource("paper-system-smoke-jdk17.json")));
        assertEquals(2, groups.size(), "one table per depth: the native + IOMMU runs join them");
        for (PlacementTable.Group g : groups) {
            assertTrue(g.bareNative());
            assertEquals("system", g.iommu());
            assertEquals(List.of("native", "native + IOMMU strict", "native + IOMMU deferred", "io-partition", "dom0-emulator",
                "passthrough"), g.rows().stream().map(PlacementTable.Row::placement).toList());
            PlacementTable.Row bare = g.row("native");
            assertEquals("off", bare.iommuUsed());
            assertEquals(1.0, bare.costVsNative(), 0);
            assertEquals("on (static p2m)", g.row("passthrough").iommuUsed());
            PlacementTable.Row strict = g.row("native + IOMMU strict");
            assertEquals("on (strict)", strict.iommuUsed());
            assertEquals(bare.ios() / strict.ios(), strict.costVsNative(), 1e-9, "divided by bare native");
            assertEquals(bare.ios() / g.row("dom0-emulator").ios(), g.row("dom0-emulator").costVsNative(), 1e-9);
            assertTrue(strict.modelledNsPerIo() > g.row("native + IOMMU deferred").modelledNsPerIo());
            assertTrue(g.row("native + IOMMU deferred").modelledNsPerIo() > bare.modelledNsPerIo());
        }
        String md = PlacementTable.markdown(groups);
        assertTrue(md.contains("divides by native on bare hardware (IOMMU off) of the same run"), md);
        assertTrue(md.contains("passthrough models cheaper than native + IOMMU strict"), md);
        assertTrue(md.contains("Willmann"), md);
    }

    /** A run with no bare native says so, and its ratios divide by the group's own native. */
    @Test
    void aRunWithoutBareNativeSaysWhatItDividesBy() throws Exception {
        PlacementTable.Group g = PlacementTable.build(JmhResult.read(resource("quick-jdk17.json"))).get(0);
        assertFalse(g.bareNative());
        assertEquals(1.0, g.row("native").costVsNative(), 0);
        String md = PlacementTable.markdown(List.of(g));
        assertTrue(md.contains("This run has no native on bare hardware"), md);
        assertFalse(md.contains("Where the modelled ns per I/O go"), "a run before the split has no split table");
    }

    /** The cost split: every part per I/O, adding up to the modelled total JMH counted beside it. */
    @Test
    void theCostSplitAddsUpToTheModelledTotal() throws Exception {
        for (PlacementTable.Group g : PlacementTable.build(JmhResult.read(resource("paper-system-smoke-jdk17.json")))) {
            for (PlacementTable.Row r : g.rows()) {
                assertEquals(org.hvbench.core.cpu.CostPart.COUNT, r.split().size(), r.placement());
                double sum = r.split().values().stream().mapToDouble(Double::doubleValue).sum();
                assertEquals(r.modelledNsPerIo(), sum, 1e-6 * r.modelledNsPerIo(), r.placement() + " at depth " + g.depth());
                double coarse = 0;
                for (PlacementTable.SplitColumn c : PlacementTable.SplitColumn.values()) {
                    coarse += r.splitNs(c.parts);
                }
                assertEquals(sum, coarse, 1e-6 * sum, "the table's columns cover every part once");
            }
            assertEquals(0, g.row("native").splitNs(org.hvbench.core.cpu.CostPart.IOTLB_INVALIDATE), 0, "bare native has no IOMMU");
            assertTrue(g.row("native + IOMMU strict").splitNs(org.hvbench.core.cpu.CostPart.IOTLB_INVALIDATE) > 0);
            assertTrue(g.row("io-partition").splitNs(org.hvbench.core.cpu.CostPart.COPY) > 0, "persistent grants copy");
        }
    }

    /** {@code Report table --format json}: the groups with every row and its split, read back by Jackson. */
    @Test
    void theJsonFormatCarriesTheSplit() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Report.run(new String[] {"table", "--format", "json", resource("paper-system-smoke-jdk17.json").toString()},
            new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, status, err.toString(StandardCharsets.UTF_8));
        com.fasterxml.jackson.databind.JsonNode root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.toByteArray());
        assertEquals(2, root.size());
        com.fasterxml.jackson.databind.JsonNode row = root.get(0).get("rows").get(0);
        assertEquals("native", row.get("placement").asText());
        assertTrue(row.get("split").has("crossing.SYSCALL"), row.toString());
        assertTrue(row.get("split").get("device").asDouble() > 0, row.toString());
        assertEquals(2, Report.run(new String[] {"table", "--format", "xml", "x.json"}, new PrintStream(out), new PrintStream(err)));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--format 'xml' is unknown; use markdown or json"));
    }
}
