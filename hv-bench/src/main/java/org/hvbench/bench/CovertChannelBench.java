package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.covert.Scheduler;
import org.hvbench.core.covert.SharedDriverRig;
import org.hvbench.core.dev.MachineConfig;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The covert channel's signal in this JVM: one 4 KiB read of the receiver guest through the driver it
 * shares with a sender guest, the sender idle or loaded (four 64 KiB reads queued), under each of the
 * driver's schedulers ({@link Scheduler}). Reads per second; the receiver's score loaded against idle
 * in the same run is what the sender can signal (1.0: nothing), and each scheduler's idle score against
 * FIFO's is what closing the channel costs the well-behaved guest. The slotted schedulers spin to the
 * end of each {@code slotMicros} slot, the same for both sender settings; {@code overruns} counts the
 * reads that outran one. {@code channel} is the placement; the control (a device each) cannot be
 * timed apart from the sender's reads on one thread and is {@code scripts/covert.sh}'s. The capacity in bits per second, on the modelled
 * and the measured clock, is {@code scripts/covert.sh}'s.
 *
 * <p>Each read is checked for its full length; the iteration's teardown checks that the loaded runs
 * made the sender read and the idle ones did not (constant-rate's dummy reads apart).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class CovertChannelBench {
    /** The placement whose driver the two guests share. */
    @Param({"hypervisor-pv", "io-partition", "dom0-emulator", "channel-program"})
    public String channel;

    @Param({"fifo", "round-robin", "time-slotted", "constant-rate"})
    public String scheduler;

    /** idle or loaded: what the sender does. */
    @Param({"idle", "loaded"})
    public String sender;

    /**
     * The slotted schedulers' wall-clock slot, µs, the same for the idle and the loaded runs (a 64 KiB
     * read takes about 8 µs here once compiled); 0 sizes it from warm reads in each trial.
     */
    @Param({"100"})
    public long slotMicros;

    private SharedDriverRig rig;
    private boolean loaded;
    private long reads;

    /**
     * Sender reads, dummy reads and slot overruns, as rates beside the receiver's (the report divides
     * them by the score: per receiver read).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long senderReads;
        public long dummyReads;
        public long overruns;

        @Setup(Level.Iteration)
        public void clear() {
            senderReads = 0;
            dummyReads = 0;
            overruns = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        if (!"idle".equals(sender) && !"loaded".equals(sender)) {
            throw new IllegalArgumentException("sender: '" + sender + "' is unknown; use idle or loaded");
        }
        loaded = "loaded".equals(sender);
        rig = new SharedDriverRig(Placement.parse(channel), Scheduler.parse(scheduler), MachineConfig.defaults(), 4, 64 << 10,
            4 << 10, slotMicros * 1000);
    }

    @Benchmark
    public long receiverRead(Counters counters) {
        reads++;
        long before = rig.senderReads();
        long dummies = rig.dummyReads();
        long over = rig.overruns();
        long bytes = rig.receiverRead(loaded);
        counters.senderReads += rig.senderReads() - before;
        counters.dummyReads += rig.dummyReads() - dummies;
        counters.overruns += rig.overruns() - over;
        return bytes;
    }

    @TearDown(Level.Iteration)
    public void check() {
        if (reads == 0) {
            throw new IllegalStateException("no receiver read ran");
        }
        if (loaded != (rig.senderReads() > 0)) {
            throw new IllegalStateException(channel + "/" + scheduler + ": the sender was " + sender + " but made "
                + rig.senderReads() + " reads");
        }
        if (Scheduler.parse(scheduler) == Scheduler.CONSTANT_RATE && !loaded && rig.dummyReads() == 0) {
            throw new IllegalStateException("constant-rate made no dummy reads for the idle sender");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        rig.close();
    }
}
