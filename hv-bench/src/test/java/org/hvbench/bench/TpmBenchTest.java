package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * TpmBench's set-up, commands and end-of-iteration check, driven directly: an extend and a quote
 * succeed and cost the crossings of their place (seven through the TPM domain, two in the guest), and
 * the check fails when a command fails or when none ran.
 */
class TpmBenchTest {
    private static TpmBench boot(String tpm) {
        TpmBench b = new TpmBench();
        b.tpm = tpm;
        b.boot();
        b.clear();
        return b;
    }

    @ParameterizedTest
    @CsvSource({"tpm-domain, 7, 2", "hypervisor, 4, 0", "guest, 2, 0"})
    void anExtendAndAQuoteSucceedAndCostTheCrossingsOfTheirPlace(String tpm, int crossings, int notifications) {
        TpmBench b = boot(tpm);
        try {
            OpCounters ops = new OpCounters();
            TpmBench.Commands c = new TpmBench.Commands();
            assertEquals(TpmBench.EXTEND_RESPONSE, b.pcrExtend(c, ops));
            assertTrue(b.quote(c, ops) > 100, "a quote's response holds a TPMS_ATTEST and a signature");
            b.check();
            assertEquals(2, ops.ops);
            assertEquals(2 * crossings, ops.crossings);
            assertEquals(2 * notifications, ops.notifications, "an event to the TPM domain and one back, per command");
            assertEquals(2, c.commands);
            assertTrue(ops.modelledNs > 0);
        } finally {
            b.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tpm-domain", "hypervisor", "guest"})
    void theCheckFailsWhenNoCommandRanOrOneFailed(String tpm) {
        TpmBench b = boot(tpm);
        try {
            IllegalStateException none = assertThrows(IllegalStateException.class, b::check);
            assertTrue(none.getMessage().contains("0 commands"), none.getMessage());
            b.breakQuoteForTest();
            b.quote(new TpmBench.Commands(), new OpCounters());
            IllegalStateException bad = assertThrows(IllegalStateException.class, b::check);
            assertTrue(bad.getMessage().contains("1 wrong") && bad.getMessage().contains("TPM2_Quote: TPM_RC_HANDLE"), bad.getMessage());
        } finally {
            b.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"dom0", ""})
    void anUnknownPlaceIsRefusedByName(String tpm) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> boot(tpm));
        assertTrue(e.getMessage().startsWith("tpm: '" + tpm + "' is unknown; known places: tpm-domain, hypervisor, guest"), e.getMessage());
    }
}
