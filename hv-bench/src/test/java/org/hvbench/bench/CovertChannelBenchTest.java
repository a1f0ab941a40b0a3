package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** CovertChannelBench driven directly: what each scheduler serves of the sender before a receiver read, and the checks. */
class CovertChannelBenchTest {
    private static CovertChannelBench open(String channel, String scheduler, String sender) {
        CovertChannelBench b = new CovertChannelBench();
        b.channel = channel;
        b.scheduler = scheduler;
        b.sender = sender;
        b.slotMicros = 100;
        b.setUp();
        return b;
    }

    private static CovertChannelBench.Counters read(CovertChannelBench b, int times) {
        CovertChannelBench.Counters c = new CovertChannelBench.Counters();
        c.clear();
        for (int i = 0; i < times; i++) {
            assertEquals(4096, b.receiverRead(c));
        }
        return c;
    }

    @Test
    void fifoServesTheLoadedSendersWholeQueueFirstAndRoundRobinOneRead() {
        CovertChannelBench fifo = open("io-partition", "fifo", "loaded");
        try {
            assertEquals(12, read(fifo, 3).senderReads, "four sender reads before each receiver read");
            fifo.check();
        } finally {
            fifo.tearDown();
        }
        CovertChannelBench rr = open("io-partition", "round-robin", "loaded");
        try {
            assertEquals(3, read(rr, 3).senderReads);
            rr.check();
        } finally {
            rr.tearDown();
        }
    }

    @Test
    void theSlottedSchedulersGiveTheIdleSenderItsSlotAndConstantRateFillsIt() {
        CovertChannelBench slotted = open("hypervisor-pv", "time-slotted", "idle");
        try {
            CovertChannelBench.Counters c = read(slotted, 3);
            assertEquals(0, c.senderReads);
            assertEquals(0, c.dummyReads);
            slotted.check();
        } finally {
            slotted.tearDown();
        }
        CovertChannelBench constant = open("channel-program", "constant-rate", "idle");
        try {
            CovertChannelBench.Counters c = read(constant, 3);
            assertEquals(0, c.senderReads);
            assertEquals(3, c.dummyReads, "one dummy read per unused slot");
            constant.check();
        } finally {
            constant.tearDown();
        }
    }

    @Test
    void theChecksFailWhenNothingRanOrTheSettingIsBad() {
        CovertChannelBench b = open("dom0-emulator", "fifo", "loaded");
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, b::check);
            assertTrue(e.getMessage().contains("no receiver read"), e.getMessage());
        } finally {
            b.tearDown();
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> open("io-partition", "fifo", "busy"));
        assertTrue(e.getMessage().startsWith("sender: 'busy'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> open("native", "fifo", "idle"));
        assertTrue(e.getMessage().startsWith("placement: native"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> open("passthrough", "fifo", "idle"));
        assertTrue(e.getMessage().startsWith("channel: passthrough gives each guest a device of its own"), e.getMessage());
    }
}
