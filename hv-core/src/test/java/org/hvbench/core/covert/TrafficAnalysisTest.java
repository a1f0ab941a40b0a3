package org.hvbench.core.covert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.dev.MachineConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A hostile driver domain learns which file a guest reads from its requests alone, unless the guest pads. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TrafficAnalysisTest {
    private static final int FILES = 8;
    private static final int ACCESSES = 200;

    @Test
    void theHostileBackEndBeatsChanceOnTheUndefendedGuestAndEncryptionDoesNotHelp() {
        for (TrafficAnalysis.Defence d : new TrafficAnalysis.Defence[] {TrafficAnalysis.Defence.NONE, TrafficAnalysis.Defence.ENCRYPT}) {
            TrafficAnalysis.Result r = TrafficAnalysis.run(FILES, ACCESSES, d, 3, MachineConfig.defaults());
            assertTrue(r.accuracy() > r.chanceBound(), d + ": accuracy " + r.accuracy() + " not above chance's bound " + r.chanceBound());
            assertEquals(1.0, r.accuracy(), 0, d + ": every access is told apart by its extent and its length");
        }
    }

    @Test
    void paddingToAFixedPatternBringsTheAttackerToChanceAndCostsThroughput() {
        TrafficAnalysis.Result none = TrafficAnalysis.run(FILES, ACCESSES, TrafficAnalysis.Defence.NONE, 3, MachineConfig.defaults());
        for (TrafficAnalysis.Defence d : new TrafficAnalysis.Defence[] {TrafficAnalysis.Defence.PAD, TrafficAnalysis.Defence.ENCRYPT_AND_PAD}) {
            TrafficAnalysis.Result r = TrafficAnalysis.run(FILES, ACCESSES, d, 3, MachineConfig.defaults());
            assertTrue(r.accuracy() <= r.chanceBound(), d + ": accuracy " + r.accuracy() + " above chance's 99.9 % bound " + r.chanceBound());
            assertEquals(FILES * (FILES + 1), r.requestsPerAccess, 0, d + ": every access is the same " + FILES * (FILES + 1) + " reads");
            assertTrue(r.usefulBytesPerSecondModelled < none.usefulBytesPerSecondModelled / 4,
                d + ": padding reads every extent, so it must cost: " + r.usefulBytesPerSecondModelled + " against " + none.usefulBytesPerSecondModelled);
        }
    }

    @Test
    void badSettingsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> TrafficAnalysis.run(1, 10, TrafficAnalysis.Defence.NONE, 1, MachineConfig.defaults()));
        assertTrue(e.getMessage().startsWith("files:"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrafficAnalysis.Defence.parse("hope"));
        assertTrue(e.getMessage().startsWith("defence: 'hope'"), e.getMessage());
    }
}
