package org.hvbench.core.covert;

import org.hvbench.core.arch.Placement;

/**
 * What one covert-channel run found: how well the receiver decoded, what that makes the channel
 * worth in bits per second, and what the scheduler cost the guests (throughput, latency, padding).
 */
public final class ChannelResult {
    private final Placement placement;
    private final Scheduler scheduler;
    private final TimeSource clock;
    private final long periodMicros;
    private final int bits;
    private final long errors;
    private final long[][] confusion;
    private final boolean sharedDriver;
    private final double meanReadsWhenOne;
    private final double meanReadsWhenZero;
    private final double receiverIosPerSecond;
    private final double senderIosPerSecond;
    private final double receiverP50Micros;
    private final double receiverP99Micros;
    private final double paddingShare;
    private final double slotMicros;
    private final long overruns;
    private final long bytesChecked;
    private final long receiverView;
    private final double wallMillis;

    ChannelResult(Placement placement, Scheduler scheduler, TimeSource clock, long periodMicros, int bits, long errors,
                  long[][] confusion, boolean sharedDriver, double meanReadsWhenOne, double meanReadsWhenZero,
                  double receiverIosPerSecond, double senderIosPerSecond, double receiverP50Micros, double receiverP99Micros,
                  double paddingShare, double slotMicros, long overruns, long bytesChecked, long receiverView, double wallMillis) {
        this.placement = placement;
        this.scheduler = scheduler;
        this.clock = clock;
        this.periodMicros = periodMicros;
        this.bits = bits;
        this.errors = errors;
        this.confusion = confusion;
        this.sharedDriver = sharedDriver;
        this.meanReadsWhenOne = meanReadsWhenOne;
        this.meanReadsWhenZero = meanReadsWhenZero;
        this.receiverIosPerSecond = receiverIosPerSecond;
        this.senderIosPerSecond = senderIosPerSecond;
        this.receiverP50Micros = receiverP50Micros;
        this.receiverP99Micros = receiverP99Micros;
        this.paddingShare = paddingShare;
        this.slotMicros = slotMicros;
        this.overruns = overruns;
        this.bytesChecked = bytesChecked;
        this.receiverView = receiverView;
        this.wallMillis = wallMillis;
    }

    public Placement placement() {
        return placement;
    }

    public Scheduler scheduler() {
        return scheduler;
    }

    public TimeSource clock() {
        return clock;
    }

    public long periodMicros() {
        return periodMicros;
    }

    /** Message bits sent (the preamble not counted). */
    public int bits() {
        return bits;
    }

    public long errors() {
        return errors;
    }

    /** Bit error rate p of the message. */
    public double errorRate() {
        return (double) errors / bits;
    }

    /** {@code confusion()[sent][decoded]}. */
    public long[][] confusion() {
        return new long[][] {confusion[0].clone(), confusion[1].clone()};
    }

    /** Raw bit rate R: one bit per period of the run's clock. */
    public double rawBitsPerSecond() {
        return 1e6 / periodMicros;
    }

    /** C = R (1 − H(p)), the capacity of a binary symmetric channel with the observed p. */
    public double capacityBitsPerSecond() {
        return rawBitsPerSecond() * Capacity.bscBitsPerSymbol(errorRate());
    }

    /** R times the mutual information of the confusion matrix (plug-in estimate). */
    public double mutualInformationBitsPerSecond() {
        return rawBitsPerSecond() * Capacity.mutualInformation(confusion);
    }

    /** The most this many bits cannot rule out at 99.9 % ({@link Capacity#upperBoundBitsPerSymbol}). */
    public double capacityBoundBitsPerSecond() {
        return rawBitsPerSecond() * Capacity.upperBoundBitsPerSymbol(errors, bits);
    }

    /** True when both guests' requests went through one driver. */
    public boolean sharedDriver() {
        return sharedDriver;
    }

    /** The receiver's reads completed per period while the preamble sent 1, on average. */
    public double meanReadsWhenOne() {
        return meanReadsWhenOne;
    }

    public double meanReadsWhenZero() {
        return meanReadsWhenZero;
    }

    /** The receiver's reads per second of the run's clock: a well-behaved guest's throughput. */
    public double receiverIosPerSecond() {
        return receiverIosPerSecond;
    }

    public double senderIosPerSecond() {
        return senderIosPerSecond;
    }

    public double receiverP50Micros() {
        return receiverP50Micros;
    }

    public double receiverP99Micros() {
        return receiverP99Micros;
    }

    /** The share of the driver's time spent on dummy work (constant-rate padding). */
    public double paddingShare() {
        return paddingShare;
    }

    /** The slot of the slotted schedulers, microseconds (sized whether used or not). */
    public double slotMicros() {
        return slotMicros;
    }

    /** Requests that ran past their slot's end (or found the driver still busy at a tick). */
    public long overruns() {
        return overruns;
    }

    /** Bytes the guests read through the real path, every read checked for its full length. */
    public long bytesChecked() {
        return bytesChecked;
    }

    /**
     * A digest of every completion time the receiver saw: equal digests under different messages mean
     * the receiver's view did not depend on what was sent (noninterference on this clock).
     */
    public long receiverView() {
        return receiverView;
    }

    public double wallMillis() {
        return wallMillis;
    }
}
