package org.hvbench.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real JMH output of OpenJDK 17 and Temurin 25, trimmed of raw data: the ArchitectureBench rows from
 * the paper runs at 03:09 and 03:14, RawCopyBench depth 1 from those at 03:59 and 04:06 (the one pair
 * whose intervals do not overlap), HypercallBench from tiny runs: one fork on 17 (multicall), one
 * iteration of 2 forks, so no error, on 25 (single).
 */
class JvmComparisonTest {
    static final String JDK17 = "17.0.15+6-Debian-1deb12u1";
    static final String JDK25 = "25.0.3+9-LTS";

    static JvmComparison.Side side(String resource) throws Exception {
        return JvmComparison.Side.of(resource, JmhResult.read(PlacementTableTest.resource(resource)));
    }

    static JvmComparison.Comparison jdk17Then25() throws Exception {
        return JvmComparison.build(List.of(side("compare-jdk17.json"), side("compare-jdk25.json")));
    }

    static JvmComparison.Row row(JvmComparison.Comparison c, String simpleName, Map<String, String> params) {
        return c.rows().stream()
            .filter(r -> r.simpleName().equals(simpleName) && r.params().entrySet().containsAll(params.entrySet()))
            .findFirst().orElseThrow(() -> new AssertionError(simpleName + " " + params + " not in the comparison"));
    }

    @Test
    void theJvmsAreNamedFromTheJson() throws Exception {
        JvmComparison.Comparison c = jdk17Then25();
        assertEquals(List.of(JDK17, JDK25), c.sides().stream().map(JvmComparison.Side::label).toList());
        assertEquals("OpenJDK 64-Bit Server VM 25.0.3+9-LTS", c.sides().get(1).vm());
        assertEquals("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java", c.sides().get(1).java());
    }

    @Test
    void overlappingIntervalsAreNotSignificant() throws Exception {
        JvmComparison.Comparison c = jdk17Then25();
        JvmComparison.Row nat = row(c, "ArchitectureBench.io", Map.of("placement", "native", "depth", "1"));
        assertEquals(1719939.2342644178, nat.result(0).primary().score(), 1e-6);
        assertEquals(293933.0836967749, nat.result(1).primary().error(), 1e-6);
        assertEquals(1807156.1968211122 / 1719939.2342644178, nat.ratio(1), 1e-12);
        assertEquals(JvmComparison.Outcome.NOT_SIGNIFICANT, nat.outcome(1));
        // 17: 50,485 ± 8,709 reaches 59,195; 25: 60,766 ± 1,713 starts at 59,053: they just overlap.
        JvmComparison.Row trap = row(c, "ArchitectureBench.io", Map.of("placement", "hypervisor-trap", "depth", "32"));
        assertTrue(trap.ratio(1) > 1.2);
        assertEquals(JvmComparison.Outcome.NOT_SIGNIFICANT, trap.outcome(1));
        String md = JvmComparison.markdown(c, "");
        assertTrue(md.contains("| 1 | native | 1,719,939 ± 244,006 | 1,807,156 ± 293,933 | ops/s | 1.051 | not significant |"), md);
        assertTrue(md.contains("All rows: costProfile current-x86, operation read, size 4096, tlbTagged false."), md);
    }

    @Test
    void separateIntervalsNameTheFasterJvmEitherWay() throws Exception {
        JvmComparison.Row copy = row(jdk17Then25(), "RawCopyBench.copy", Map.of("depth", "1"));
        assertEquals(19814716.583890837 / 8474411.255713865, copy.ratio(1), 1e-12);
        assertEquals(JvmComparison.Outcome.FASTER, copy.outcome(1));
        String md = JvmComparison.markdown(jdk17Then25(), "");
        assertTrue(md.contains("| 8,474,411 ± 1,587,831 | 19,814,717 ± 2,355,787 | ops/s | 2.338 | " + JDK25 + " faster |"), md);

        JvmComparison.Comparison swapped = JvmComparison.build(List.of(side("compare-jdk25.json"), side("compare-jdk17.json")));
        JvmComparison.Row back = row(swapped, "RawCopyBench.copy", Map.of("depth", "1"));
        assertEquals(8474411.255713865 / 19814716.583890837, back.ratio(1), 1e-12);
        assertEquals(JvmComparison.Outcome.SLOWER, back.outcome(1));
        assertEquals(JDK25 + " faster", swapped.verdict(back, 1));
        assertTrue(JvmComparison.markdown(swapped, "").contains("| " + JDK17 + " / " + JDK25 + " | verdict |"));
    }

    @Test
    void inTimeModesTheLowerScoreIsFaster() {
        JmhResult slow = result("avgt", 2, 100.0, 1.0);
        JmhResult fast = result("avgt", 2, 50.0, 1.0);
        assertEquals(JvmComparison.Outcome.FASTER, JvmComparison.compare(slow, fast));
        assertEquals(JvmComparison.Outcome.SLOWER, JvmComparison.compare(fast, slow));
        assertEquals(JvmComparison.Outcome.SLOWER, JvmComparison.compare(result("thrpt", 2, 100.0, 1.0), result("thrpt", 2, 50.0, 1.0)));
        assertEquals(JvmComparison.Outcome.NOT_SIGNIFICANT, JvmComparison.compare(slow, result("avgt", 2, 60.0, 40.0)),
            "touching intervals overlap");
    }

    private static JmhResult result(String mode, int forks, double score, double error) {
        return new JmhResult("b.B.m", mode, Map.of(), new JmhResult.Metric(score, error, "ns/op"), Map.of(), "17", "VM", "17",
            forks, 5, "test", "java");
    }

    @Test
    void oneForkAndNoErrorAreShownButNotCompared() throws Exception {
        JvmComparison.Comparison c = jdk17Then25();
        JvmComparison.Row multicall = row(c, "HypercallBench.multicall", Map.of("calls", "1"));
        assertEquals(1, multicall.result(0).forks());
        assertEquals(JvmComparison.Outcome.ONE_FORK, multicall.outcome(1));
        assertEquals("one fork: not compared", c.verdict(multicall, 1));
        JvmComparison.Row single = row(c, "HypercallBench.single", Map.of());
        assertTrue(Double.isNaN(single.result(1).primary().error()));
        assertEquals(JvmComparison.Outcome.NO_ERROR, single.outcome(1));
        assertEquals(147449.66845590543 / 127285.52882618926, single.ratio(1), 1e-12, "the ratio is still shown");
        String md = JvmComparison.markdown(c, "");
        assertTrue(md.contains("| 25,764 ± 345,701 (one fork) | 67,918 ± 295,322 | ops/s | 2.636 | one fork: not compared |"), md);
        assertTrue(md.contains("| 127,286 ± 210,096 | 147,450 (no error) | ops/s | 1.158 | no error: not compared |"), md);
    }

    @Test
    void aBenchmarkOnOneJvmOnlyIsListedAsMissingOnTheOther() throws Exception {
        JvmComparison.Comparison c = jdk17Then25();
        JvmComparison.Row only17 = row(c, "ArchitectureBench.io", Map.of("placement", "native", "depth", "32"));
        assertNull(only17.result(1));
        assertEquals(JvmComparison.Outcome.MISSING, only17.outcome(1));
        assertTrue(Double.isNaN(only17.ratio(1)));
        assertEquals("missing on " + JDK25, c.verdict(only17, 1));
        JvmComparison.Row only25 = row(c, "ArchitectureBench.io", Map.of("placement", "hypervisor-pv", "depth", "1"));
        assertNull(only25.result(0));
        assertNotNull(only25.result(1));
        assertEquals("missing on " + JDK17, c.verdict(only25, 1));
        String md = JvmComparison.markdown(c, "");
        assertTrue(md.contains("| 32 | native | 106,847 ± 18,660 | missing | ops/s |  | missing on " + JDK25 + " |"), md);
        assertTrue(md.contains(JDK25 + " against " + JDK17
            + ": faster in 1, slower in 0, not significant in 2, not compared in 2, missing on one side in 2."), md);
    }

    @Test
    void theSameJvmTwiceGetsNumberedLabels() throws Exception {
        JvmComparison.Comparison c = JvmComparison.build(List.of(side("compare-jdk17.json"), side("compare-jdk17.json")));
        assertEquals(List.of(JDK17, JDK17 + " #2"), c.sides().stream().map(JvmComparison.Side::label).toList());
        assertEquals(JvmComparison.Outcome.NOT_SIGNIFICANT,
            row(c, "RawCopyBench.copy", Map.of("depth", "1")).outcome(1));
    }

    @Test
    void aFileMixingJvmsIsRefused() throws Exception {
        List<JmhResult> both = new ArrayList<>(side("compare-jdk17.json").results());
        both.addAll(side("compare-jdk25.json").results());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JvmComparison.Side.of("both.json", both));
        assertTrue(e.getMessage().contains("both.json mixes JVMs"), e.getMessage());
    }

    @Test
    void theCommandWritesTheTableAndANonEmptyChart(@TempDir Path dir) throws Exception {
        Path md = dir.resolve("out/COMPARE.md");
        Path png = dir.resolve("charts/compare-paper.png");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Report.run(new String[] {"compare", "--out", md.toString(), "--chart", png.toString(), "--title", "profile paper\n\nRun by hand.",
            PlacementTableTest.resource("compare-jdk17.json").toString(), PlacementTableTest.resource("compare-jdk25.json").toString()},
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(0, status, err.toString(StandardCharsets.UTF_8));
        String text = Files.readString(md);
        assertTrue(text.startsWith("# JVMs compared\n\nprofile paper\n\nRun by hand.\n\n"), text);
        assertTrue(text.contains("### RawCopyBench.copy"));
        byte[] bytes = Files.readAllBytes(png);
        assertTrue(bytes.length > 1000, "chart of " + bytes.length + " bytes");
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(bytes, 4));
        BufferedImage image = ImageIO.read(png.toFile());
        assertTrue(image.getWidth() >= 900 && image.getHeight() == 900, image.getWidth() + "x" + image.getHeight());
    }

    @Test
    void badUsageIsRefusedWithWhatIsAllowed() throws Exception {
        String a = PlacementTableTest.resource("compare-jdk17.json").toString();
        String b = PlacementTableTest.resource("compare-jdk25.json").toString();
        assertUsage(2, "unknown option --svg; allowed: --out FILE.md, --chart FILE.png, --title TEXT", "compare", "--svg", "x", a, b);
        assertUsage(2, "give two or more JMH JSON files, one per JVM (got 1)", "compare", a);
        assertUsage(2, "--out needs a value", "compare", a, b, "--out");
        assertUsage(2, "--chart x.jpg: the chart is a PNG", "compare", "--chart", "x.jpg", a, b);
        assertUsage(1, "cannot read /nonexistent.json", "compare", a, "/nonexistent.json");
        assertUsage(2, "Report compare [--out FILE.md]", "comparison", a, b);
    }

    private static void assertUsage(int status, String message, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(status, Report.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8)));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains(message), err.toString(StandardCharsets.UTF_8));
        assertEquals(0, out.size(), "nothing on standard output");
    }
}
