package org.hvbench.core.covert;

import java.util.Arrays;
import java.util.SplittableRandom;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.arch.Tenants;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.Aio;

/**
 * A covert timing channel between two guests that share nothing but a driver (Karger and Safford,
 * section 3.2). The sender sends a bit string by loading the shared path in a bit period (many large
 * reads in flight) or leaving it idle; the receiver reads 4 KiB at a time, one after the other, and
 * counts how many of its reads complete in each period: fewer means the sender was busy. It learns its
 * threshold from a known preamble, then decodes the message.
 *
 * <p>How time works. Each guest runs on a CPU of its own (Xen pins busy vCPUs; the CPU and cache
 * channels between guests are another matter, which the report leaves to the processor). Every read of
 * either guest runs for real through the placement's path when the guest submits it, which prices it:
 * the picoseconds its own contexts took (its app and kernel, before it reaches the driver) and the
 * picoseconds of everything else (the hypervisor, the partition, the emulator, the device: the driver
 * side). The driver side is one server per driver, shared by both guests where the placement shares
 * the driver and one per guest where each guest has a device of its own; the {@link Scheduler} decides,
 * on this timeline, which waiting request the driver serves next and when. With the
 * {@link TimeSource#MODELLED} clock the prices are the cost profile's (deterministic); with
 * {@link TimeSource#MEASURED} a read's whole wall time in this JVM is its driver-side price.
 */
public final class CovertChannel {
    static final int SENDER = 0;
    static final int RECEIVER = 1;
    private static final int EV_PERIOD = 1;
    private static final int EV_ARRIVE = 2;
    private static final int EV_DONE = 3;
    private static final int EV_TICK = 4;
    private static final int EV_PAD_DONE = 5;
    private static final int EV_RELEASE = 6;
    /** Reads run before the channel to reach steady state, and to size the slots from the later half. */
    private static final int WARM_UP_READS = 64;

    private CovertChannel() {
    }

    /** What a run is asked to do; every setting is checked and a bad one named. */
    public static final class Settings {
        Placement placement = Placement.IO_PARTITION;
        Scheduler scheduler = Scheduler.FIFO;
        TimeSource clock = TimeSource.MODELLED;
        long periodMicros = 500;
        int bits = 128;
        int preamble = 16;
        long seed = 1;
        int senderDepth = 4;
        int senderBytes = 64 << 10;
        int probeBytes = 4 << 10;
        double slotMicros;
        MachineConfig config = MachineConfig.defaults();

        public Settings placement(Placement p) {
            if (p == Placement.NATIVE) {
                throw new IllegalArgumentException("placement: native has no guests, so no channel between guests; use one of "
                    + String.join(", ", Placement.ids().subList(1, Placement.ids().size())));
            }
            this.placement = p;
            return this;
        }

        public Settings scheduler(Scheduler s) {
            this.scheduler = s;
            return this;
        }

        public Settings clock(TimeSource t) {
            this.clock = t;
            return this;
        }

        /** The bit period, microseconds of the run's clock: 10 to 1,000,000. */
        public Settings periodMicros(long micros) {
            if (micros < 10 || micros > 1_000_000) {
                throw new IllegalArgumentException("period: " + micros + " µs is not allowed; use 10 to 1000000");
            }
            this.periodMicros = micros;
            return this;
        }

        /** Message bits after the preamble: 8 to 65,536. */
        public Settings bits(int n) {
            if (n < 8 || n > 65_536) {
                throw new IllegalArgumentException("bits: " + n + " is not allowed; use 8 to 65536");
            }
            this.bits = n;
            return this;
        }

        /** Preamble bits (alternating 1, 0) the receiver learns its threshold from: an even 2 to 1024. */
        public Settings preamble(int n) {
            if (n < 2 || n > 1024 || n % 2 != 0) {
                throw new IllegalArgumentException("preamble: " + n + " is not allowed; use an even number from 2 to 1024");
            }
            this.preamble = n;
            return this;
        }

        public Settings seed(long s) {
            this.seed = s;
            return this;
        }

        /** Reads the sender keeps in flight while it sends a 1: 1 to 32. */
        public Settings senderDepth(int n) {
            if (n < 1 || n > 32) {
                throw new IllegalArgumentException("senderDepth: " + n + " is not allowed; use 1 to 32");
            }
            this.senderDepth = n;
            return this;
        }

        /** Bytes of each of the sender's reads: a multiple of 4096 from 4096 to {@value Aio#MAX_IO_BYTES}. */
        public Settings senderBytes(int n) {
            this.senderBytes = checkSize("senderBytes", n);
            return this;
        }

        /** Bytes of each of the receiver's reads: a multiple of 4096 up to {@value Aio#MAX_IO_BYTES}. */
        public Settings probeBytes(int n) {
            this.probeBytes = checkSize("probeBytes", n);
            return this;
        }

        /**
         * The slot of the slotted schedulers, microseconds; 0 (the default) sizes it from the reads
         * either guest makes before the run: the longest plus a quarter on the modelled clock, twice the
         * 90th percentile on the measured one.
         */
        public Settings slotMicros(double micros) {
            if (!(micros >= 0) || micros > 100_000) {
                throw new IllegalArgumentException("slot: " + micros + " µs is not allowed; use 0 (automatic) or up to 100000");
            }
            this.slotMicros = micros;
            return this;
        }

        public Settings config(MachineConfig c) {
            this.config = c;
            return this;
        }

        private static int checkSize(String name, int n) {
            if (n < 4096 || n > Aio.MAX_IO_BYTES || n % 4096 != 0) {
                throw new IllegalArgumentException(name + ": " + n + " is not allowed; use a multiple of 4096 from 4096 to " + Aio.MAX_IO_BYTES);
            }
            return n;
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

        public int bits() {
            return bits;
        }

        public long seed() {
            return seed;
        }
    }

    /**
     * Sends a seeded random message through {@code s}'s placement and decodes it. The message is
     * balanced (as many ones as zeros, in a seeded random order), so that a decoder that always says
     * the same is wrong half the time and R (1 − H(p)) gives it nothing.
     */
    public static ChannelResult run(Settings s) {
        return run(s, message(s));
    }

    /** The balanced seeded message of {@code s}. */
    static boolean[] message(Settings s) {
        boolean[] message = new boolean[s.bits];
        for (int i = 0; i < s.bits / 2; i++) {
            message[i] = true;
        }
        SplittableRandom random = new SplittableRandom(s.seed);
        for (int i = s.bits - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            boolean t = message[i];
            message[i] = message[j];
            message[j] = t;
        }
        return message;
    }

    /** Sends {@code message} (after the preamble) and decodes it. */
    public static ChannelResult run(Settings s, boolean[] message) {
        if (s.clock == TimeSource.THREADED) {
            return ThreadedChannel.run(s, message);
        }
        long wall0 = System.nanoTime();
        try (Tenants tenants = Tenants.open(s.placement, s.config, 2, s.senderDepth)) {
            PricedIo sender = new PricedIo(tenants.guest(SENDER), s.senderDepth, s.senderBytes);
            PricedIo receiver = new PricedIo(tenants.guest(RECEIVER), 1, s.probeBytes);
            long[] senderServices = new long[WARM_UP_READS];
            long[] probeServices = new long[WARM_UP_READS];
            for (int i = 0; i < WARM_UP_READS; i++) {
                sender.read(i % s.senderDepth, s.senderBytes);
                senderServices[i] = service(s.clock, sender);
                receiver.read(0, s.probeBytes);
                probeServices[i] = service(s.clock, receiver);
            }
            long senderService = slotBasis(s.clock, senderServices);
            long slot = s.slotMicros > 0 ? Math.round(s.slotMicros * 1e6)
                : s.clock == TimeSource.MODELLED ? (Math.max(senderService, slotBasis(s.clock, probeServices)) * 5 + 3) / 4
                : 2 * Math.max(senderService, slotBasis(s.clock, probeServices));
            Run run = new Run(s, message, tenants.sharedDriver(), sender, receiver, slot, senderService);
            run.execute();
            return run.result((System.nanoTime() - wall0) / 1_000_000.0);
        }
    }

    /**
     * What a slot is sized from, over the later half of the warm-up's prices: the longest on the
     * modelled clock (deterministic: then nothing overruns), the 90th percentile on the measured one
     * (the longest would be a GC pause; what runs longer overruns and is counted).
     */
    private static long slotBasis(TimeSource clock, long[] prices) {
        long[] later = Arrays.copyOfRange(prices, prices.length / 2, prices.length);
        Arrays.sort(later);
        return clock == TimeSource.MODELLED ? later[later.length - 1] : later[(int) Math.ceil(0.9 * later.length) - 1];
    }

    /** The driver-side price of the read {@code io} just did, picoseconds of {@code clock}. */
    static long service(TimeSource clock, PricedIo io) {
        return clock == TimeSource.MODELLED ? io.driverPicos() : io.wallNanos() * 1000;
    }

    /** The guest-side price (before the request reaches the driver), picoseconds of {@code clock}. */
    static long own(TimeSource clock, PricedIo io) {
        return clock == TimeSource.MODELLED ? io.ownPicos() : 0;
    }

    /**
     * Decodes what the receiver counted per period: the threshold is the midpoint of the preamble's
     * ones and zeros, and the side the ones fall on is learnt too (loaded periods complete fewer reads).
     */
    static ChannelResult decode(Settings s, TimeSource clock, boolean[] sent, int[] perPeriod, boolean shared, long[] latencies,
                                int latencyCount, long receiverReads, long senderReads, double seconds, double paddingShare,
                                double slotMicros, long overruns, long bytes, long receiverView, double wallMillis) {
        double ones = 0;
        double zeros = 0;
        for (int k = 0; k < s.preamble; k++) {
            if (sent[k]) {
                ones += perPeriod[k];
            } else {
                zeros += perPeriod[k];
            }
        }
        ones /= s.preamble / 2.0;
        zeros /= s.preamble / 2.0;
        double threshold = (ones + zeros) / 2;
        long[][] confusion = new long[2][2];
        long errors = 0;
        for (int k = s.preamble; k < sent.length; k++) {
            boolean decoded = ones < zeros ? perPeriod[k] < threshold : ones > zeros && perPeriod[k] > threshold;
            confusion[sent[k] ? 1 : 0][decoded ? 1 : 0]++;
            if (decoded != sent[k]) {
                errors++;
            }
        }
        long[] sorted = Arrays.copyOf(latencies, latencyCount);
        Arrays.sort(sorted);
        return new ChannelResult(s.placement, s.scheduler, clock, s.periodMicros, sent.length - s.preamble, errors, confusion, shared,
            ones, zeros, receiverReads / seconds, senderReads / seconds, percentile(sorted, 0.50) / 1e6, percentile(sorted, 0.99) / 1e6,
            paddingShare, slotMicros, overruns, bytes, receiverView, wallMillis);
    }

    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
        return sorted[i];
    }

    /** The message after the preamble (alternating 1, 0). */
    static boolean[] withPreamble(Settings s, boolean[] message) {
        boolean[] sent = new boolean[s.preamble + message.length];
        for (int k = 0; k < s.preamble; k++) {
            sent[k] = k % 2 == 0;
        }
        System.arraycopy(message, 0, sent, s.preamble, message.length);
        return sent;
    }

    /** One run's timeline: the guests, the driver servers, the events. */
    private static final class Run {
        final Settings s;
        final boolean[] sent;
        final int periods;
        final long period;
        final long end;
        final long slot;
        final long padService;
        final PricedIo[] io;
        final Server[] serverOf = new Server[2];
        final EventQueue events = new EventQueue();
        final int[] inFlight = new int[2];
        final long[] completions = new long[2];
        final int[] perPeriod;
        long[] latencies = new long[1024];
        int latencyCount;
        long receiverView = 17;
        int senderBuffer;

        Run(Settings s, boolean[] message, boolean shared, PricedIo sender, PricedIo receiver, long slot, long padService) {
            this.s = s;
            this.periods = s.preamble + message.length;
            this.sent = withPreamble(s, message);
            this.period = s.periodMicros * 1_000_000L;
            this.end = period * periods;
            this.slot = slot;
            this.padService = padService;
            this.io = new PricedIo[] {sender, receiver};
            this.perPeriod = new int[periods];
            if (shared) {
                Server one = new Server(this, new int[] {SENDER, RECEIVER});
                serverOf[SENDER] = one;
                serverOf[RECEIVER] = one;
            } else {
                serverOf[SENDER] = new Server(this, new int[] {SENDER});
                serverOf[RECEIVER] = new Server(this, new int[] {RECEIVER});
            }
        }

        void execute() {
            for (int k = 0; k < periods; k++) {
                events.add(k * period, EV_PERIOD | k << 8);
            }
            if (s.scheduler == Scheduler.CONSTANT_RATE) {
                for (Server sv : distinctServers()) {
                    events.add(0, EV_TICK | sv.index << 4);
                }
            }
            submit(RECEIVER, 0);
            while (!events.isEmpty() && events.peekTime() < end) {
                long now = events.peekTime();
                int e = events.poll();
                int type = e & 0xF;
                int who = (e >>> 4) & 0xF;
                switch (type) {
                    case EV_PERIOD:
                        if (sent[e >>> 8]) {
                            while (inFlight[SENDER] < s.senderDepth) {
                                submit(SENDER, now);
                            }
                        }
                        break;
                    case EV_ARRIVE:
                        serverOf[who].dispatch(now);
                        break;
                    case EV_DONE:
                    case EV_PAD_DONE:
                        server(who).done(now, type == EV_PAD_DONE);
                        break;
                    case EV_TICK:
                        server(who).tick(now);
                        break;
                    case EV_RELEASE:
                        serverOf[who].release(who, now);
                        break;
                    default:
                        throw new IllegalStateException("unknown event " + type);
                }
            }
        }

        Server[] distinctServers() {
            return serverOf[SENDER] == serverOf[RECEIVER] ? new Server[] {serverOf[SENDER]} : serverOf.clone();
        }

        Server server(int index) {
            return serverOf[SENDER].index == index ? serverOf[SENDER] : serverOf[RECEIVER];
        }

        /** Guest {@code g} submits a read at {@code now}: it runs for real and joins its driver's queue. */
        void submit(int g, long now) {
            PricedIo p = io[g];
            if (g == SENDER) {
                p.read(senderBuffer, s.senderBytes);
                senderBuffer = (senderBuffer + 1) % s.senderDepth;
            } else {
                p.read(0, s.probeBytes);
            }
            inFlight[g]++;
            long arrival = now + own(s.clock, p);
            serverOf[g].enqueue(g, now, arrival, service(s.clock, p));
            events.add(arrival, EV_ARRIVE | g << 4);
        }

        /** Guest {@code g}'s read submitted at {@code submitted} completes at {@code now}. */
        void completed(int g, long submitted, long now) {
            inFlight[g]--;
            completions[g]++;
            if (g == RECEIVER) {
                int k = (int) (now / period);
                if (k < periods) {
                    perPeriod[k]++;
                }
                if (latencyCount == latencies.length) {
                    latencies = Arrays.copyOf(latencies, latencyCount * 2);
                }
                latencies[latencyCount++] = now - submitted;
                receiverView = receiverView * 31 + now;
                if (now < end) {
                    submit(RECEIVER, now);
                }
            } else if (now < end && sent[(int) (now / period)]) {
                submit(SENDER, now);
            }
        }

        ChannelResult result(double wallMillis) {
            long pad = 0;
            long overruns = 0;
            for (Server sv : distinctServers()) {
                pad += sv.padPicos;
                overruns += sv.overruns;
            }
            return decode(s, s.clock, sent, perPeriod, serverOf[SENDER] == serverOf[RECEIVER], latencies, latencyCount,
                completions[RECEIVER], completions[SENDER], end / 1e12, (double) pad / (end * distinctServers().length), slot / 1e6,
                overruns, io[SENDER].bytes() + io[RECEIVER].bytes(), receiverView, wallMillis);
        }

    }

    /**
     * One driver and its scheduler: per-guest queues of requests that have reached it, served one at
     * a time; {@link Scheduler} decides which and when.
     */
    private static final class Server {
        final Run run;
        final int index;
        final int[] members;
        final long[][] arrival;
        final long[][] submitted;
        final long[][] service;
        final int[] head;
        final int[] count;
        /** Completions held until their slot ends, per guest, in order: the submit times. */
        final long[][] held;
        final int[] heldHead;
        final int[] heldCount;
        boolean busy;
        int current = -1;
        long currentSubmitted;
        long currentSlotEnd;
        int last = -1;
        boolean tickPending;
        long padPicos;
        long overruns;

        Server(Run run, int[] members) {
            this.run = run;
            this.index = members[0];
            this.members = members;
            int cap = 64;
            arrival = new long[2][cap];
            submitted = new long[2][cap];
            service = new long[2][cap];
            head = new int[2];
            count = new int[2];
            held = new long[2][cap];
            heldHead = new int[2];
            heldCount = new int[2];
        }

        void enqueue(int g, long now, long at, long svc) {
            int cap = arrival[g].length;
            if (count[g] == cap) {
                throw new IllegalStateException("driver queue of guest " + g + " overflowed");
            }
            int tail = (head[g] + count[g]) % cap;
            // A guest's requests reach the driver in the order it sent them.
            long prev = count[g] > 0 ? arrival[g][(tail + cap - 1) % cap] : Long.MIN_VALUE;
            arrival[g][tail] = Math.max(at, prev);
            submitted[g][tail] = now;
            service[g][tail] = svc;
            count[g]++;
        }

        private boolean ready(int g, long now) {
            return count[g] > 0 && arrival[g][head[g]] <= now;
        }

        private void start(int g, long now, long slotEnd) {
            int h = head[g];
            long svc = service[g][h];
            currentSubmitted = submitted[g][h];
            head[g] = (h + 1) % arrival[g].length;
            count[g]--;
            busy = true;
            current = g;
            last = g;
            currentSlotEnd = slotEnd;
            if (now + svc > slotEnd) {
                overruns++;
            }
            run.events.add(now + svc, EV_DONE | index << 4);
        }

        /** Serves the next request, if the scheduler lets one start at {@code now}. */
        void dispatch(long now) {
            if (busy) {
                return;
            }
            switch (run.s.scheduler) {
                case FIFO: {
                    int best = -1;
                    for (int g : members) {
                        if (ready(g, now) && (best < 0 || arrival[g][head[g]] < arrival[best][head[best]])) {
                            best = g;
                        }
                    }
                    if (best >= 0) {
                        start(best, now, Long.MAX_VALUE);
                    }
                    break;
                }
                case ROUND_ROBIN: {
                    int n = members.length;
                    int from = 0;
                    for (int i = 0; i < n; i++) {
                        if (members[i] == last) {
                            from = i + 1;
                        }
                    }
                    for (int i = 0; i < n; i++) {
                        int g = members[(from + i) % n];
                        if (ready(g, now)) {
                            start(g, now, Long.MAX_VALUE);
                            break;
                        }
                    }
                    break;
                }
                case TIME_SLOTTED: {
                    long j = now / run.slot;
                    int owner = members[(int) (j % members.length)];
                    long slotStart = j * run.slot;
                    long slotEnd = slotStart + run.slot;
                    // Only the slot's owner runs in it, and only what fits; at the slot's start it
                    // runs whatever it has (a longer request overruns, and is counted).
                    if (ready(owner, now) && (now == slotStart || now + service[owner][head[owner]] <= slotEnd)) {
                        start(owner, now, slotEnd);
                    } else if (!tickPending && waiting()) {
                        tickPending = true;
                        run.events.add(slotEnd, EV_TICK | index << 4);
                    }
                    break;
                }
                case CONSTANT_RATE:
                    // Only the slot ticks start work.
                    break;
                default:
                    throw new IllegalStateException("scheduler " + run.s.scheduler);
            }
        }

        private boolean waiting() {
            for (int g : members) {
                if (count[g] > 0) {
                    return true;
                }
            }
            return false;
        }

        void tick(long now) {
            if (run.s.scheduler == Scheduler.TIME_SLOTTED) {
                tickPending = false;
                dispatch(now);
                return;
            }
            // Constant rate: every slot serves its owner's oldest request, or dummy work of the
            // padded size, so the driver's pattern is the same whatever the guests do.
            long j = now / run.slot;
            int owner = members[(int) (j % members.length)];
            long slotEnd = now + run.slot;
            run.events.add(slotEnd, EV_TICK | index << 4);
            if (busy) {
                overruns++;
                return;
            }
            if (ready(owner, now)) {
                start(owner, now, slotEnd);
            } else {
                busy = true;
                current = -1;
                padPicos += run.padService;
                run.events.add(now + run.padService, EV_PAD_DONE | index << 4);
            }
        }

        void done(long now, boolean pad) {
            busy = false;
            if (!pad) {
                int g = current;
                current = -1;
                if (run.s.scheduler.slotted() && currentSlotEnd > now) {
                    // The slotted schedulers hand a completion back when its slot ends, not when the
                    // device is done: how long a request took (which the driver's shared state, such as
                    // its place in the device queue, still moves) is not the guest's to see.
                    int cap = held[g].length;
                    held[g][(heldHead[g] + heldCount[g]) % cap] = currentSubmitted;
                    heldCount[g]++;
                    run.events.add(currentSlotEnd, EV_RELEASE | g << 4);
                } else {
                    run.completed(g, currentSubmitted, now);
                }
            }
            dispatch(now);
        }

        void release(int g, long now) {
            long submittedAt = held[g][heldHead[g]];
            heldHead[g] = (heldHead[g] + 1) % held[g].length;
            heldCount[g]--;
            run.completed(g, submittedAt, now);
        }
    }
}
