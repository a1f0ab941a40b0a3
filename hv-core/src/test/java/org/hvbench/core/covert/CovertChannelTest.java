package org.hvbench.core.covert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.arch.Placement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The covert timing channel through a shared driver, on the modelled clock (deterministic). */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CovertChannelTest {
    private static final int BITS = 128;

    private static CovertChannel.Settings settings(Placement p, Scheduler s) {
        return new CovertChannel.Settings().placement(p).scheduler(s).periodMicros(500).bits(BITS).seed(42);
    }

    /**
     * Under FIFO the I/O partition's back end serves the sender's large reads before the receiver's
     * small one: the receiver decodes the message (p well below 1 %), and the channel carries close
     * to its raw rate.
     */
    @Test
    void theReceiverDecodesAKnownMessageThroughTheIoPartitionUnderFifo() {
        ChannelResult r = CovertChannel.run(settings(Placement.IO_PARTITION, Scheduler.FIFO));
        assertTrue(r.sharedDriver());
        assertTrue(r.errorRate() <= 0.01, "p = " + r.errorRate());
        assertTrue(r.meanReadsWhenOne() * 2 < r.meanReadsWhenZero(),
            "loaded periods complete far fewer reads: " + r.meanReadsWhenOne() + " against " + r.meanReadsWhenZero());
        assertTrue(r.capacityBitsPerSecond() >= 0.9 * r.rawBitsPerSecond(), "C = " + r.capacityBitsPerSecond());
        assertTrue(r.bytesChecked() > 0);
    }

    /** Every placement that shares its driver leaks under a work-conserving scheduler. */
    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"HYPERVISOR_PV", "HYPERVISOR_TRAP", "IO_PARTITION", "DOM0_EMULATOR", "CHANNEL_PROGRAM"})
    void aSharedDriverLeaksUnderFifoAndRoundRobin(Placement p) {
        for (Scheduler s : new Scheduler[] {Scheduler.FIFO, Scheduler.ROUND_ROBIN}) {
            ChannelResult r = CovertChannel.run(settings(p, s));
            assertTrue(r.sharedDriver(), p + " shares its driver");
            assertTrue(r.errorRate() <= 0.05, p + " " + s + ": p = " + r.errorRate());
        }
    }

    /**
     * The bound the samples allow: with n message bits a decoder no better than a coin makes between
     * n/2 ± z·√n/2 errors, and the capacity cannot be shown below R (1 − H(½ − z/(2√n))). A channel
     * that closes must be no better than that (and its mutual information within the G-test's 99.9 %
     * bound), and must show the stronger fact behind it on the
     * modelled clock: the receiver sees exactly the same completion times whatever the sender sends.
     */
    @ParameterizedTest
    @EnumSource(value = Placement.class, names = {"HYPERVISOR_PV", "IO_PARTITION", "DOM0_EMULATOR", "CHANNEL_PROGRAM", "PASSTHROUGH"})
    void theSlottedSchedulersAndTheControlCloseTheChannel(Placement p) {
        Scheduler[] closing = p == Placement.PASSTHROUGH ? Scheduler.values() : new Scheduler[] {Scheduler.TIME_SLOTTED, Scheduler.CONSTANT_RATE};
        boolean[] zeros = new boolean[BITS];
        boolean[] ones = new boolean[BITS];
        Arrays.fill(ones, true);
        double z = Capacity.Z_999;
        double bound = Capacity.bscBitsPerSymbol(0.5 - z / (2 * Math.sqrt(BITS)));
        for (Scheduler s : closing) {
            ChannelResult random = CovertChannel.run(settings(p, s));
            ChannelResult allZero = CovertChannel.run(settings(p, s), zeros);
            ChannelResult allOne = CovertChannel.run(settings(p, s), ones);
            assertEquals(allZero.receiverView(), allOne.receiverView(), p + " " + s + ": the receiver's view depends on the message");
            assertEquals(allZero.receiverView(), random.receiverView(), p + " " + s + ": the receiver's view depends on the message");
            assertEquals(0, random.overruns(), p + " " + s + ": a request ran past its slot");
            // Under independence 2 n ln 2 times the plug-in mutual information is chi-squared with one
            // degree of freedom (the G-test): above 10.83 at most once in a thousand.
            double miBound = 10.83 / (2 * BITS * Math.log(2));
            assertTrue(random.mutualInformationBitsPerSecond() <= random.rawBitsPerSecond() * miBound,
                p + " " + s + ": mutual information " + random.mutualInformationBitsPerSecond() + " bits/s");
            assertTrue(random.capacityBitsPerSecond() <= random.rawBitsPerSecond() * bound + 1e-9,
                p + " " + s + ": C = " + random.capacityBitsPerSecond() + " above what " + BITS + " coin flips allow");
            assertTrue(random.receiverIosPerSecond() > 0, p + " " + s + ": the receiver was served");
        }
        if (p == Placement.PASSTHROUGH) {
            assertFalse(CovertChannel.run(settings(p, Scheduler.FIFO)).sharedDriver(), "each passthrough guest has its own device");
        }
    }

    /** What closing the channel costs: the slotted schedulers serve the well-behaved receiver less than FIFO does. */
    @Test
    void closingTheChannelCostsTheReceiverThroughputAndLatency() {
        boolean[] zeros = new boolean[BITS];
        ChannelResult fifo = CovertChannel.run(settings(Placement.IO_PARTITION, Scheduler.FIFO), zeros);
        ChannelResult slotted = CovertChannel.run(settings(Placement.IO_PARTITION, Scheduler.TIME_SLOTTED), zeros);
        ChannelResult constant = CovertChannel.run(settings(Placement.IO_PARTITION, Scheduler.CONSTANT_RATE), zeros);
        assertTrue(slotted.receiverIosPerSecond() < fifo.receiverIosPerSecond());
        assertTrue(slotted.receiverP50Micros() > fifo.receiverP50Micros());
        assertTrue(constant.paddingShare() > 0, "constant-rate pads the idle sender's slots with dummy work");
        assertEquals(0, slotted.paddingShare(), "time-slotted leaves unused slots idle");
    }

    /**
     * The threaded clock runs the drivers as they are, on threads: it reads and checks real data
     * through the shared back end or through a device each, and has no scheduler but theirs. What it
     * decodes depends on this machine's timing, so only that it ran is asserted here.
     */
    @Test
    void theThreadedClockRunsTheRealDriversAndHasNoSchedulerButTheirs() {
        for (Placement p : new Placement[] {Placement.IO_PARTITION, Placement.PASSTHROUGH}) {
            ChannelResult r = CovertChannel.run(new CovertChannel.Settings().placement(p).clock(TimeSource.THREADED).periodMicros(200)
                .bits(16));
            assertEquals(p == Placement.IO_PARTITION, r.sharedDriver());
            assertEquals(TimeSource.THREADED, r.clock());
            assertTrue(r.receiverIosPerSecond() > 0 && r.bytesChecked() > 0, p + ": nothing was read");
            assertEquals(16, r.bits());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CovertChannel.run(
            new CovertChannel.Settings().placement(Placement.IO_PARTITION).clock(TimeSource.THREADED).scheduler(Scheduler.TIME_SLOTTED)));
        assertTrue(e.getMessage().startsWith("scheduler: the threaded clock"), e.getMessage());
    }

    @Test
    void badSettingsAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Scheduler.parse("lottery"));
        assertTrue(e.getMessage().startsWith("scheduler: 'lottery'") && e.getMessage().contains("time-slotted"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new CovertChannel.Settings().periodMicros(1));
        assertTrue(e.getMessage().startsWith("period:"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new CovertChannel.Settings().placement(Placement.NATIVE));
        assertTrue(e.getMessage().startsWith("placement: native"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new CovertChannel.Settings().senderBytes(1000));
        assertTrue(e.getMessage().startsWith("senderBytes:"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TimeSource.parse("sundial"));
        assertTrue(e.getMessage().startsWith("clock:"), e.getMessage());
    }

    @Test
    void capacityMeasuresAreThoseOfABinaryChannel() {
        assertEquals(1.0, Capacity.entropy(0.5), 1e-12);
        assertEquals(0.0, Capacity.entropy(0), 0);
        assertEquals(0.4690, Capacity.entropy(0.1), 1e-4);
        assertEquals(1.0, Capacity.mutualInformation(new long[][] {{50, 0}, {0, 50}}), 1e-12);
        assertEquals(0.0, Capacity.mutualInformation(new long[][] {{25, 25}, {25, 25}}), 1e-12);
        assertEquals(0.0, Capacity.mutualInformation(new long[][] {{50, 0}, {50, 0}}), 1e-12);
        assertEquals(1 - Capacity.entropy(0.1), Capacity.mutualInformation(new long[][] {{45, 5}, {5, 45}}), 1e-12);
        assertTrue(Capacity.upperBoundBitsPerSymbol(512, 1024) < Capacity.upperBoundBitsPerSymbol(64, 128));
        assertEquals(1.0, Capacity.upperBoundBitsPerSymbol(0, 1024), 1e-12);
    }
}
