package org.hvbench.report;

import static org.hvbench.report.PlacementTableTest.resource;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Report markdown} on real JMH output (trimmed of raw data) laid out as bench.sh lays out
 * results/: which file of a profile is read, the values the report shows, what it does when a
 * result, an error or a file is missing or broken, and that the charts are real PNG images.
 */
class MarkdownReportTest {
    private static final String JVM = "debian-17.0.15";
    private static final String NEW_PAPER = "paper-20261122T035930Z.json";
    private static final String OLD_PAPER = "paper-20261122T030950Z.json";

    @TempDir
    Path dir;

    /** A copy of the test results tree: dir/results/debian-17.0.15/... */
    private Path results() throws Exception {
        Path from = resource("results");
        Path to = dir.resolve("results");
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return to;
    }

    private record Run(int status, String out, String err) {
    }

    private static Run report(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Report.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Runs the report over {@code results} into dir/results/REPORT.md and returns its text. */
    private String markdown(Path results) throws IOException {
        Run r = report("markdown", "--out", results.resolve("REPORT.md").toString(), "--charts", results.resolve("charts").toString(),
            results.toString());
        assertEquals(0, r.status(), r.err());
        return Files.readString(results.resolve("REPORT.md"));
    }

    @Test
    void eachProfileIsReadFromItsNewestFileAndCompanionsAreNotResults() throws Exception {
        Path results = results();
        Files.writeString(results.resolve(JVM).resolve("iommu-20991231T000000Z.part1.json"), "[]");
        List<ResultFiles.Profile> profiles = ResultFiles.find(List.of(results));
        assertEquals(List.of("paper", "iommu"), profiles.stream().map(ResultFiles.Profile::profile).toList(),
            "paper first, then the others; no machine file or unmerged part counted as a profile");
        ResultFiles.Profile paper = profiles.get(0);
        assertEquals(JVM, paper.jvm());
        assertEquals(List.of(NEW_PAPER, OLD_PAPER), paper.newestFirst().stream().map(p -> p.getFileName().toString()).toList());

        String md = markdown(results);
        assertTrue(md.contains("[" + NEW_PAPER + "](" + JVM + "/" + NEW_PAPER + ")"), md);
        assertFalse(md.contains(OLD_PAPER), "the older paper run is not reported");
    }

    @Test
    void thePlacementTableShowsMeasuredAndPredictedCountsAndTheRatioToNative() throws Exception {
        String md = markdown(results());
        // paper-20261122T035930Z: native 1,880,021 I/O per s, hypervisor-pv 507,607 at depth 1.
        List<JmhResult> paper = JmhResult.read(resource("results/" + JVM + "/" + NEW_PAPER));
        PlacementTable.Group g = PlacementTable.build(paper).get(0);
        double ratio = g.row("native").ios() / g.row("hypervisor-pv").ios();
        assertEquals(3.70, ratio, 0.005);
        assertTrue(md.contains("| hypervisor-pv | on (strict) | 8.00 | 8 | 0.00 | 507,607 ± 164,825 | 3.70 ± 1.44 | 10.0 |  | 4014 | 0.008 |"), md);
        assertTrue(md.contains("| dom0-emulator | on (strict) | 16.00 | 16 | 2.00 |"), md);
        assertTrue(md.contains("| native | on (strict) | 5.00 | 5 | 0.00 | 1,880,021 ± 398,919 | 1.00 ± 0.00 |"), md);
        // The machine comes from the file beside the results, the JVM from the JMH JSON.
        assertTrue(md.contains("Machine: AMD EPYC, 2 logical CPUs (2 cores), 23.5 GiB memory, Linux"), md);
        assertTrue(md.contains("| JVM | OpenJDK 64-Bit Server VM 17.0.15+6-Debian-1deb12u1 (JDK 17.0.15) |"), md);
        assertTrue(md.contains("| JVM arguments | `--add-opens java.base/jdk.internal.misc=ALL-UNNAMED` |"), md);
        assertTrue(md.contains("forks 2, warm-up 3 × 2 s, measurement 5 × 2 s, threads 1."), md);
        assertTrue(md.contains("Machine: not recorded with this run"), "the iommu run has no machine file: " + md);
    }

    /** A covert.sh result beside the JMH ones: the placement table gains its columns, the JVM's section its tables. */
    @Test
    void aCovertResultAddsTheSecurityColumnsAndItsOwnSection() throws Exception {
        Path results = results();
        String covert = "{\"jvm\":\"test\",\"commit\":\"abc1234\",\"stamp\":\"20261207T120000Z\",\"settings\":{\"bits\":64},"
            + "\"channel\":[{\"placement\":\"hypervisor-pv\",\"scheduler\":\"fifo\",\"clock\":\"modelled\",\"periodMicros\":200,"
            + "\"capacityBitsPerSecond\":4999.0,\"rawBitsPerSecond\":5000.0,\"sharedDriver\":true},"
            + "{\"placement\":\"hypervisor-pv\",\"scheduler\":\"fifo\",\"clock\":\"measured\",\"periodMicros\":200,"
            + "\"capacityBitsPerSecond\":4321.0,\"rawBitsPerSecond\":5000.0,\"sharedDriver\":true}],"
            + "\"traffic\":[],\"trustedBase\":[{\"placement\":\"native\",\"lines\":700,\"parts\":[\"kernel\"],\"sharesDriver\":false,"
            + "\"dmaFromAnotherGuest\":\"no guests\"},{\"placement\":\"hypervisor-pv\",\"lines\":3500,\"parts\":[\"hv\"],"
            + "\"sharesDriver\":true,\"dmaFromAnotherGuest\":\"no: only the trusted driver's checks\"}]}";
        Files.writeString(results.resolve(JVM).resolve("covert-20261207T120000Z.json"), covert);
        assertEquals(List.of("paper", "iommu"), ResultFiles.find(List.of(results)).stream().map(ResultFiles.Profile::profile).toList(),
            "a covert result is not a JMH profile");
        String md = markdown(results);
        assertTrue(md.contains("| TCB lines | driver shared | covert capacity, bits/s (modelled \\| measured) | DMA from another guest blocked |"), md);
        assertTrue(md.contains("| 3,500 | yes | 4999 \\| 4321 | no: only the trusted driver's checks |"), md);
        assertTrue(md.contains("| 700 | no guests | no guests | no guests |"), md);
        assertTrue(md.contains("### What each placement buys: covert channel, traffic-flow analysis, trusted base"), md);
        assertTrue(md.contains("#### Trusted base: what a guest of each placement must trust besides itself"), md);
    }

    @Test
    void crossingsAgainstDepthAreTabledAndThePublishedFiguresStandBesideOurs() throws Exception {
        String md = markdown(results());
        assertTrue(md.contains("| placement | paper | depth 1 | depth 8 | depth 32 |"), md);
        assertTrue(md.contains("| channel-program | 8 per chain | 8.00 | 1.00 | 0.25 |"), md);
        assertTrue(md.contains("| native | 5 per I/O | 5.00 | 0.63 | 0.16 |"), md);
        assertTrue(md.contains("| Context switches in one asynchronous I/O: OS on bare hardware (`native`) | 5 | Karger & Safford 2008,"
            + " figure 4 | 5.00 (`paper`) |"), md);
        // 16 crossings over 5, and native's 1,880,021 I/O per s over dom0-emulator's 413,102, in the same run.
        assertTrue(md.contains("| dom0 emulation against bare hardware | about 3× the context switches | Karger & Safford 2008, section 4.2"
            + " | crossings 3.20×; time measured 4.55 ± 1.16×, modelled 7.86× (`paper`) |"), md);
        // io-partition's 416,075 I/O per s as a share of native's 1,880,021.
        assertTrue(md.contains("| I/O per second measured 0.22 ± 0.05, modelled 0.19 of native's (`paper`) |"), md);
        assertTrue(md.contains("crossings per I/O, chain of 1: 8.00, chain of 8: 1.00, chain of 32: 0.25 (`iommu`)"), md);
        // Native with the IOMMU off 2,051,174 I/O per s, on (strict) 1,469,451: 1.40× the time.
        assertTrue(md.contains("exclusion vector 1.00 ± 0.03×, IOMMU on (strict) 1.40 ± 0.02× (`iommu`)"), md);
        // passthrough was not in these runs: said, not guessed.
        assertTrue(md.contains("| Devices assigned to guests through an IOMMU avoid the I/O partition's cost | no figure |"
            + " Karger & Safford 2008, section 4.1 | not measured |"), md);
    }

    @Test
    void withoutNativeTheRatiosSaySoAndNothingFails() throws Exception {
        Path results = results();
        Path paper = results.resolve(JVM).resolve(NEW_PAPER);
        ObjectMapper json = new ObjectMapper();
        ArrayNode all = (ArrayNode) json.readTree(paper.toFile());
        ArrayNode withoutNative = json.createArrayNode();
        all.forEach(n -> {
            if (!"native".equals(n.path("params").path("placement").asText())) {
                withoutNative.add(n);
            }
        });
        json.writeValue(paper.toFile(), withoutNative);
        Files.delete(results.resolve(JVM).resolve("iommu-20261122T064216Z.json"));

        String md = markdown(results);
        assertTrue(md.contains("| hypervisor-pv | on (strict) | 8.00 | 8 | 0.00 | 507,607 ± 164,825 |  | 10.0 |"), "an empty ratio: " + md);
        assertTrue(md.contains("| raw copy (floor) | | 0 | | | 8,474,411 ± 1,587,831 |  | 0 |"), md);
        assertTrue(md.contains("| dom0 emulation against bare hardware | about 3× the context switches | Karger & Safford 2008,"
            + " section 4.2 | not measured |"), md);
        assertTrue(Files.size(results.resolve("charts").resolve(JVM + "-paper-time-over-native.png")) > 0);
    }

    @Test
    void resultsWithoutErrorsAreSaidAndStillCharted() throws Exception {
        Path results = dir.resolve("results");
        Files.createDirectories(results.resolve("jdk"));
        Files.copy(resource("two-iterations-no-error.json"), results.resolve("jdk").resolve("paper-20260101T000000Z.json"));
        Path stale = results.resolve("charts").resolve("jdk-paper-crossings.png");
        Files.createDirectories(stale.getParent());
        Files.writeString(stale, "an older run's chart");
        String md = markdown(results);
        assertTrue(md.contains("(no error: too few samples)"), md);
        assertTrue(md.contains("a bar without one had too few samples"), md);
        for (String chart : List.of("jdk-paper-ios.png", "jdk-paper-time-over-native.png")) {
            assertPng(results.resolve("charts").resolve(chart));
        }
        assertFalse(Files.exists(stale), "one depth: no curve to draw, and an older run's is not left behind");
    }

    @Test
    void chartsAreWrittenAsPngImagesAndLinkedFromTheReport() throws Exception {
        Path results = results();
        String md = markdown(results);
        for (String profile : List.of("paper", "iommu")) {
            for (String kind : List.of("ios", "crossings", "time-over-native")) {
                String name = JVM + "-" + profile + "-" + kind + ".png";
                assertPng(results.resolve("charts").resolve(name));
                assertTrue(md.contains("](charts/" + name + ")"), name + " linked: " + md);
            }
        }
    }

    private static void assertPng(Path png) throws IOException {
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head, png + " is a PNG");
        BufferedImage image = ImageIO.read(png.toFile());
        assertNotNull(image, png + " decodes");
        assertTrue(image.getWidth() >= 800 && image.getHeight() >= 400, png + " has a readable size");
    }

    @Test
    void anUnreadableNewestFileIsNamedAndTheNextNewestIsRead() throws Exception {
        Path results = results();
        Path broken = results.resolve(JVM).resolve("paper-20991231T000000Z.json");
        Files.writeString(broken, "[ { \"benchmark\" : ");
        Run r = report("markdown", "--out", results.resolve("REPORT.md").toString(), results.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.err().contains("skipped " + broken), r.err());
        String md = Files.readString(results.resolve("REPORT.md"));
        assertTrue(md.contains("Skipped, unreadable:"), md);
        assertTrue(md.contains("[" + NEW_PAPER + "]"), "the next newest paper run is read: " + md);
        assertTrue(Files.isDirectory(results.resolve("charts")), "charts default to beside the report");
    }

    @Test
    void anUnreadableMachineFileIsSaidAndTheResultsStillCount() throws Exception {
        Path results = results();
        Files.writeString(results.resolve(JVM).resolve("paper-20261122T035930Z.machine.json"), "not json");
        String md = markdown(results);
        assertTrue(md.contains("Machine: (machine file unreadable:"), md);
        assertTrue(md.contains("| hypervisor-pv | on (strict) | 8.00 | 8 |"), md);
    }

    @Test
    void badUsageAndMissingResultsAreRefused() throws Exception {
        Path out = dir.resolve("REPORT.md");
        assertEquals(2, report("markdown", dir.toString()).status(), "--out is required");
        assertEquals(2, report("markdown", "--out", out.toString()).status(), "results are required");
        Run unknown = report("markdown", "--out", out.toString(), "--chart", "x", dir.toString());
        assertEquals(2, unknown.status());
        assertTrue(unknown.err().contains("unknown option --chart"), unknown.err());
        assertEquals(1, report("markdown", "--out", out.toString(), dir.resolve("nonexistent").toString()).status());
        Run empty = report("markdown", "--out", out.toString(), dir.toString());
        assertEquals(1, empty.status(), "a folder without results");
        assertTrue(empty.err().contains("no readable JMH results"), empty.err());
        assertFalse(Files.exists(out), "no report is written when there is nothing to report");
    }

    @Test
    void theMainSettingIsTheInlineOneWithTheMostPlacements() throws Exception {
        List<PlacementTable.Group> groups = PlacementTable.build(JmhResult.read(resource("threaded-smoke-jdk17.json")));
        assertTrue(groups.stream().anyMatch(g -> g.executor().startsWith("threaded")));
        List<PlacementTable.Group> main = MarkdownReport.mainSetting(groups);
        assertFalse(main.isEmpty());
        main.forEach(g -> assertEquals("inline", g.executor()));
        List<String> placements = new ArrayList<>();
        main.get(0).rows().forEach(r -> placements.add(r.placement()));
        assertEquals(List.of("native", "passthrough"), placements);
        assertTrue(MarkdownReport.setting(main.get(0)).startsWith("read 4 KiB, TLB untagged, current-x86"),
            MarkdownReport.setting(main.get(0)));
    }

    @Test
    void tableHeadingsNestUnderTheReportsOwn() {
        assertEquals("#### a\n| x |\n##### b", MarkdownReport.demote("## a\n| x |\n### b", 2));
        assertEquals("IOMMU off (invalidation deferred, unused)", "IOMMU " + PlacementTable.iommu(new PlacementTable.Group("read", 4096, 1, "false", "none", "persistent", "off", "deferred",
                "inline", "", List.of(), null, true)));
    }
}
