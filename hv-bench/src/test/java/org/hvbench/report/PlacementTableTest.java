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
        assertTrue(PlacementTable.markdown(List.of(g)).contains("| hypervisor-pv | 8.00 | 8 |  |"));
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
}
