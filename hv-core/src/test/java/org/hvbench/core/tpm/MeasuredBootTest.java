package org.hvbench.core.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

/** The toolstack's measured boot, its crypto-agile event log, and the log's replay against the vTPM. */
class MeasuredBootTest {
    private static final byte[] KERNEL = "a kernel image".getBytes();
    private static final byte[] CONFIG = "memory = 2".getBytes();

    @Test
    void replayingTheLogGivesTheVtpmsPcrs() {
        Vtpm tpm = new Vtpm();
        EventLog log = MeasuredBoot.measure(tpm, KERNEL, CONFIG);
        assertEquals(3 + 8, log.events().size(), "firmware, kernel, configuration, and a separator in each of PCRs 0-7");
        byte[][] replayed = log.replay();
        for (int i = 0; i < Pcrs.COUNT; i++) {
            assertArrayEquals(tpm.pcrs().value(i), replayed[i], "PCR " + i);
        }
        assertTrue(!Arrays.equals(new byte[32], tpm.pcrs().value(MeasuredBoot.KERNEL_PCR)));
    }

    @Test
    void anotherKernelGivesAnotherPcr4AndTheSameFirmwarePcr0() {
        Vtpm a = new Vtpm();
        Vtpm b = new Vtpm();
        MeasuredBoot.measure(a, KERNEL, CONFIG);
        MeasuredBoot.measure(b, "another kernel".getBytes(), CONFIG);
        assertArrayEquals(a.pcrs().value(0), b.pcrs().value(0));
        assertArrayEquals(a.pcrs().value(5), b.pcrs().value(5));
        assertTrue(!Arrays.equals(a.pcrs().value(4), b.pcrs().value(4)));
    }

    @Test
    void measuringAfterTheGuestRanIsRefused() {
        Vtpm tpm = new Vtpm();
        byte[] cmd = new byte[Vtpm.MAX_BUFFER];
        tpm.execute(cmd, TpmCommands.startup(cmd), 0, new byte[Vtpm.MAX_BUFFER]);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> MeasuredBoot.measure(tpm, KERNEL, CONFIG));
        assertTrue(e.getMessage().contains("measure before the guest runs"), e.getMessage());
    }

    @Test
    void theLogIsCryptoAgileLittleEndianAndDecodesToItself() {
        EventLog log = MeasuredBoot.measure(new Vtpm(), KERNEL, CONFIG);
        byte[] bytes = log.encode();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0, b.getInt(0), "the spec ID event is in PCR 0");
        assertEquals(EventLog.EV_NO_ACTION, b.getInt(4));
        assertEquals(33, b.getInt(28), "TCG_EfiSpecIdEvent with one algorithm and no vendor info");
        assertArrayEquals(EventLog.SPEC_ID, Arrays.copyOfRange(bytes, 32, 48));
        assertEquals(Tpm2.ALG_SHA256, b.getShort(32 + 24 + 4));
        // The first TCG_PCR_EVENT2: PCR 0, EV_POST_CODE, one digest, SHA-256.
        int first = 32 + 33;
        assertEquals(0, b.getInt(first));
        assertEquals(EventLog.EV_POST_CODE, b.getInt(first + 4));
        assertEquals(1, b.getInt(first + 8));
        assertEquals(Tpm2.ALG_SHA256, b.getShort(first + 12));

        EventLog back = EventLog.decode(bytes);
        assertEquals(log.events().size(), back.events().size());
        for (int i = 0; i < Pcrs.COUNT; i++) {
            assertArrayEquals(log.replay()[i], back.replay()[i]);
        }
        assertEquals("kernel image, " + KERNEL.length + " bytes", back.events().get(1).description());
    }

    @Test
    void aBrokenLogNamesTheByteWhereItBreaks() {
        byte[] bytes = MeasuredBoot.measure(new Vtpm(), KERNEL, CONFIG).encode();
        IllegalArgumentException cut = assertThrows(IllegalArgumentException.class,
            () -> EventLog.decode(Arrays.copyOf(bytes, bytes.length - 3)));
        assertTrue(cut.getMessage().startsWith("event log at byte "), cut.getMessage());
        byte[] noSpec = bytes.clone();
        noSpec[32] = 'X';
        IllegalArgumentException sig = assertThrows(IllegalArgumentException.class, () -> EventLog.decode(noSpec));
        assertEquals("event log at byte 32: no \"Spec ID Event03\" signature: not a crypto-agile log", sig.getMessage());
        byte[] pcr99 = bytes.clone();
        ByteBuffer.wrap(pcr99).order(ByteOrder.LITTLE_ENDIAN).putInt(32 + 33, 99);
        IllegalArgumentException p = assertThrows(IllegalArgumentException.class, () -> EventLog.decode(pcr99));
        assertEquals("event log at byte 65: PCR 99", p.getMessage());
    }
}
