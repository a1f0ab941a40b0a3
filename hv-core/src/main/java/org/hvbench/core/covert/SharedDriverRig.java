package org.hvbench.core.covert;

import java.util.Arrays;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.arch.Tenants;
import org.hvbench.core.dev.MachineConfig;

/**
 * The channel's two guests for a benchmark that times, in this JVM, one read of the receiver through
 * the shared driver with the sender idle or loaded: what the driver's scheduler makes the receiver
 * wait for, in wall time. FIFO serves the loaded sender's whole queue first; round-robin one of its
 * reads; the slotted schedulers give each guest one slot, of a fixed wall-clock length, whether it
 * uses it or not, constant-rate filling an unused one with a dummy read. The slot is twice the 90th
 * percentile of a hundred warm reads; {@link #overruns} counts the reads that did not fit.
 */
public final class SharedDriverRig implements AutoCloseable {
    private static final int CALIBRATION_READS = 256;

    private final Tenants tenants;
    private final PricedIo sender;
    private final PricedIo receiver;
    private final Scheduler scheduler;
    private final int senderDepth;
    private final int senderBytes;
    private final int probeBytes;
    private final long slotNanos;
    private long overruns;
    private long senderReads;
    private long dummyReads;
    private int senderBuffer;

    /**
     * @param placement a placement whose guests share a driver
     * @throws IllegalArgumentException for {@code native}, or a placement with a device per guest
     */
    public SharedDriverRig(Placement placement, Scheduler scheduler, MachineConfig config, int senderDepth, int senderBytes,
                           int probeBytes) {
        this(placement, scheduler, config, senderDepth, senderBytes, probeBytes, 0);
    }

    /**
     * As the constructor above, with a slot of {@code slotNanos} (0: sized from the warm reads), so
     * that runs with the sender idle and loaded use the same slot.
     *
     * @throws IllegalArgumentException for {@code native} or a placement whose guests do not share a driver, or a negative slot
     */
    public SharedDriverRig(Placement placement, Scheduler scheduler, MachineConfig config, int senderDepth, int senderBytes,
                           int probeBytes, long slotNanos) {
        if (slotNanos < 0) {
            throw new IllegalArgumentException("slot: " + slotNanos + " ns is not allowed; use 0 (sized from warm reads) or more");
        }
        this.scheduler = scheduler;
        this.senderDepth = senderDepth;
        this.senderBytes = senderBytes;
        this.probeBytes = probeBytes;
        new CovertChannel.Settings().placement(placement).senderDepth(senderDepth).senderBytes(senderBytes).probeBytes(probeBytes);
        this.tenants = Tenants.open(placement, config, 2, senderDepth);
        if (!tenants.sharedDriver()) {
            tenants.close();
            throw new IllegalArgumentException("channel: " + placement + " gives each guest a device of its own, so the receiver"
                + " waits behind nothing of the sender's, and one thread cannot time it apart from the sender's reads; its control"
                + " is scripts/covert.sh's (every clock)");
        }
        try {
            sender = new PricedIo(tenants.guest(CovertChannel.SENDER), senderDepth, senderBytes);
            receiver = new PricedIo(tenants.guest(CovertChannel.RECEIVER), 1, probeBytes);
            long[] later = new long[CALIBRATION_READS / 2];
            for (int i = 0; i < CALIBRATION_READS; i++) {
                sender.read(i % senderDepth, senderBytes);
                receiver.read(0, probeBytes);
                if (i >= CALIBRATION_READS / 2) {
                    later[i - CALIBRATION_READS / 2] = Math.max(sender.wallNanos(), receiver.wallNanos());
                }
            }
            // Twice the 90th percentile of the warm reads: the slowest would be a GC pause or a
            // compilation, and would make every slot that long.
            Arrays.sort(later);
            this.slotNanos = slotNanos > 0 ? slotNanos : 2 * later[(int) Math.ceil(0.9 * later.length) - 1];
        } catch (RuntimeException e) {
            tenants.close();
            throw e;
        }
    }

    /**
     * One read of the receiver, after whatever the scheduler serves of the sender's first; returns
     * the receiver's bytes (each read is checked for its full length).
     */
    public long receiverRead(boolean senderLoaded) {
        switch (scheduler) {
            case FIFO:
                if (senderLoaded) {
                    for (int i = 0; i < senderDepth; i++) {
                        senderRead();
                    }
                }
                receiver.read(0, probeBytes);
                break;
            case ROUND_ROBIN:
                if (senderLoaded) {
                    senderRead();
                }
                receiver.read(0, probeBytes);
                break;
            case TIME_SLOTTED:
            case CONSTANT_RATE:
                long slot = System.nanoTime();
                if (senderLoaded) {
                    senderRead();
                } else if (scheduler == Scheduler.CONSTANT_RATE) {
                    senderRead();
                    senderReads--;
                    dummyReads++;
                }
                slot = waitForSlotEnd(slot);
                receiver.read(0, probeBytes);
                waitForSlotEnd(slot);
                break;
            default:
                throw new IllegalStateException("scheduler " + scheduler);
        }
        return probeBytes;
    }

    private void senderRead() {
        sender.read(senderBuffer, senderBytes);
        senderBuffer = (senderBuffer + 1) % senderDepth;
        senderReads++;
    }

    /** Spins until the slot begun at {@code start} ends; returns its end, the next slot's start. */
    private long waitForSlotEnd(long start) {
        long end = start + slotNanos;
        long now = System.nanoTime();
        if (now > end) {
            overruns++;
            return now;
        }
        while (now < end) {
            Thread.onSpinWait();
            now = System.nanoTime();
        }
        return end;
    }

    public long slotNanos() {
        return slotNanos;
    }

    /** Slots whose read ran past the slot's end: each one a measured leak. */
    public long overruns() {
        return overruns;
    }

    public long senderReads() {
        return senderReads;
    }

    public long dummyReads() {
        return dummyReads;
    }

    /** Bytes read and checked through the real paths. */
    public long bytesChecked() {
        return sender.bytes() + receiver.bytes();
    }

    @Override
    public void close() {
        tenants.close();
    }
}
