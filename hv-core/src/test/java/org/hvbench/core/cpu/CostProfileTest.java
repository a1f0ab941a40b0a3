package org.hvbench.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CostProfileTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"paper-era", "current-x86"})
    void builtInProfilesCostSomethingForEveryCrossingAndCiteTheirSources(String name) throws IOException {
        CostProfile p = CostProfile.load(name);
        assertEquals(name, p.name());
        for (Crossing kind : Crossing.values()) {
            assertTrue(p.crossingPicos(kind) > 0, kind + " costs something in " + name);
        }
        assertTrue(p.tlbMissPicos() > 0 && p.walkLevelPicos() > 0 && p.copyPicos(4096) > 0);
        try (var in = CostProfile.class.getResourceAsStream("/org/hvbench/core/cpu/profiles/" + name + ".properties")) {
            String text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            long keys = text.lines().filter(l -> !l.startsWith("#") && l.contains("=")
                && !l.startsWith("name") && !l.startsWith("description")).count();
            long sources = text.lines().filter(l -> l.startsWith("# source:")).count();
            assertEquals(keys, sources, "every value has its source line");
        }
    }

    @Test
    void noneCostsNothing() {
        CostProfile p = CostProfile.load("none");
        for (Crossing kind : Crossing.values()) {
            assertEquals(0, p.crossingPicos(kind));
        }
        assertEquals(0, p.copyPicos(1 << 20));
    }

    @Test
    void aProfileFileLoadsAndAMissingKeyIsNamed() throws IOException {
        Path good = dir.resolve("mine.properties");
        StringBuilder text = new StringBuilder("name=mine\n");
        for (Crossing kind : Crossing.values()) {
            text.append("crossing.").append(kind).append("=1.5\n");
        }
        text.append("switch.IDLE=1\naddressSpace.switch=1\ntlb.flush=1\ntlb.miss=1\nwalk.level=1\niotlb.miss=1\niotlb.invalidate=1\ncopy.perKiB=1024\n");
        Files.writeString(good, text);
        CostProfile p = CostProfile.load(good.toString());
        assertEquals(1500, p.crossingPicos(Crossing.VMEXIT));
        assertEquals(4096_000, p.copyPicos(4096), "1024 ns per KiB is 1 ns (1000 ps) per byte");
        Path bad = dir.resolve("bad.properties");
        Files.writeString(bad, text.toString().replace("tlb.miss=1\n", ""));
        assertEquals("costProfile " + bad + ": key 'tlb.miss' is missing",
            assertThrows(IllegalArgumentException.class, () -> CostProfile.load(bad.toString())).getMessage());
        Files.writeString(bad, text.toString().replace("tlb.miss=1", "tlb.miss=-3"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CostProfile.load(bad.toString())).getMessage()
            .contains("must be >= 0 ns"));
    }

    @Test
    void anUnknownNameListsTheBuiltInOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CostProfile.load("pdp-11"));
        assertEquals("costProfile: 'pdp-11' is neither a built-in profile (none, paper-era, current-x86) nor a readable"
            + " .properties file", e.getMessage());
    }
}
