package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.exec.Executor;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.exec.ThreadedExecutor;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.Emulator;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A front-end guest destroyed with I/O in flight: {@value #GUESTS} guests on one back end, random
 * reads and writes with {@value #DEPTH} in flight each (stamped and checked word for word against a
 * per-guest model, as {@link LoadRun} does), and {@value #DESTROYS} times one of them, picked at
 * random, is destroyed by the toolstack at a random point of the pipeline and a new guest takes its
 * place. Inline, the point is a random number of party turns after a submission (requests on the
 * ring, on the device's queue, run by the device and not yet answered...); threaded, the executor is
 * stopped after a random number of completions wherever the threads had got to (the toolstack pauses
 * the machine, as {@code xl destroy} pauses the domain) and a new one resumes it. Proves, each time:
 * <ul>
 * <li>no frame is owned by the dead domain afterwards; every frame an I/O of it on the device still
 *     reaches is in quarantine (not free, nobody's), and stays there while any such I/O is on the
 *     device, even while a new guest's memory is allocated; every other frame of it is free and
 *     zero;</li>
 * <li>once its I/Os on the device have finished, the back end has unmapped every grant of it (the
 *     persistent pool and the ring too), closed its event port (no port anywhere names the dead
 *     domain), and every quarantined frame is scrubbed (reads as zeros) and free; the hypervisor's
 *     and the grant tables' audits pass;</li>
 * <li>the dead guest gets no completion; every other guest's requests complete exactly once with the
 *     right data (0 lost, 0 duplicated, 0 corrupted), and nothing leaks at the end.</li>
 * </ul>
 * Seed: {@code -Dhvbench.destroy.seed=N} (default fixed per case); every failure names it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FrontEndDestroyTest {
    static final int GUESTS = 8;
    static final int DEPTH = 4;
    static final int DESTROYS = Integer.getInteger("hvbench.destroy.rounds", 100);
    static final int SECTOR = 512;
    private static final int WORDS = SECTOR / 8;
    /** Each guest's virtual disk; a new guest gets a fresh one, so a dead guest's late write lands in nobody's. */
    static final int EXTENT_SECTORS = 256;
    static final long DISK_BYTES = (long) (GUESTS + DESTROYS + 1) * EXTENT_SECTORS * SECTOR;
    private static final int MAX_SECTORS = 3 * (MachineMemory.PAGE_SIZE / SECTOR);

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (Placement placement : new Placement[] {Placement.IO_PARTITION, Placement.DOM0_EMULATOR}) {
            for (Executor.Kind kind : Executor.Kind.values()) {
                for (GrantMode mode : new GrantMode[] {GrantMode.PERSISTENT, GrantMode.MAP}) {
                    b.add(Arguments.of(placement, kind, mode));
                }
            }
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void aFrontEndDestroyedWithIoInFlightLeavesNothingAndTheOthersLoseNothing(Placement placement, Executor.Kind kind,
                                                                             GrantMode mode) {
        long seed = Long.getLong("hvbench.destroy.seed", 7919L * (placement.ordinal() + 1) + 31L * kind.ordinal() + mode.ordinal());
        long start = System.nanoTime();
        Run run = new Run(placement, kind, mode, seed);
        try {
            run.go();
            if (run.rig instanceof EmulatorRig e && kind == Executor.Kind.INLINE) {
                // Seeded and single-threaded: the eight emulators overflow the shared device queue.
                assertTrue(e.p.partitionKernel().roomWaits() > 0, "the emulators never had to wait for room in the partition kernel");
            }
        } catch (AssertionError | RuntimeException e) {
            AssertionError wrapped = new AssertionError("seed " + seed + " (rerun with -Dhvbench.destroy.seed=" + seed + "), "
                + placement.id() + " " + kind.id() + " " + mode + ", round " + run.round + ": " + e.getMessage(), e);
            throw wrapped;
        } finally {
            run.close();
        }
        System.out.printf(Locale.ROOT, "front-end destroy: %s %s %s, seed %d: %d destroys (%d with I/O on the device, %d frames"
                + " quarantined, all scrubbed), %,d requests of the others verified, 0 lost, 0 duplicated%s; %.1f s%n",
            placement.id(), kind.id(), mode, seed, DESTROYS, run.destroysWithDma, run.quarantinedFrames, run.completedTotal,
            run.rig.note(), (System.nanoTime() - start) / 1e9);
    }

    static final int EMULATOR_QUEUE_ENTRIES = 16;
    static final int EMULATOR_ROUNDS = Integer.getInteger("hvbench.destroy.emulatorRounds", 12);

    static Stream<Arguments> emulatorCases() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (Executor.Kind kind : Executor.Kind.values()) {
            for (GrantMode mode : new GrantMode[] {GrantMode.PERSISTENT, GrantMode.MAP}) {
                b.add(Arguments.of(kind, mode));
            }
        }
        return b.build();
    }

    /**
     * dom0-emulator: the placement has one HVM guest per emulator (QEMU's model), so each round is a
     * fresh machine whose guest is destroyed at a random point of its load; the emulator's foreign
     * mappings of its frames hold them in quarantine while its I/Os are with the partition's kernel
     * and device, and the emulator's close unmaps them all (queues and persistent pages too) and
     * closes its request port.
     */
    @ParameterizedTest(name = "dom0-emulator {0} {1}")
    @MethodSource("emulatorCases")
    void theEmulatorsGuestDestroyedWithIoInFlightLeavesNothing(Executor.Kind kind, GrantMode mode) {
        long seed = Long.getLong("hvbench.destroy.seed", 104729L + 31L * kind.ordinal() + mode.ordinal());
        Random random = new Random(seed);
        long start = System.nanoTime();
        int withDma = 0;
        int round = 0;
        try {
            for (round = 0; round < EMULATOR_ROUNDS; round++) {
                boolean dma = emulatorRound(kind, mode, random);
                withDma += dma ? 1 : 0;
            }
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed " + seed + " (rerun with -Dhvbench.destroy.seed=" + seed + "), dom0-emulator "
                + kind.id() + " " + mode + ", round " + round + ": " + e.getMessage(), e);
        }
        System.out.printf(Locale.ROOT, "front-end destroy: dom0-emulator %s %s, seed %d: %d destroys (%d with I/O under way), all"
            + " quarantined frames scrubbed; %.1f s%n", kind.id(), mode, seed, EMULATOR_ROUNDS, withDma,
            (System.nanoTime() - start) / 1e9);
    }

    /** One machine, one guest destroyed at a random point; true when it had I/O under way then. */
    private static boolean emulatorRound(Executor.Kind kind, GrantMode mode, Random random) {
        MachineConfig config = MachineConfig.defaults().memory(64L << 20).diskBytes(1L << 20);
        long[] completed = new long[1];
        Model[] holder = new Model[1];
        App.CompletionListener forward = new App.CompletionListener() {
            @Override
            public void onCompletion(Cpu c, long userData, int result) {
                holder[0].onCompletion(c, userData, result);
            }
        };
        EmulatorPlacement p = new EmulatorPlacement(config, DEPTH, mode, kind.layout(), forward);
        Executor executor = null;
        try {
            FrameAllocator frames = p.machine().frames();
            MachineMemory memory = p.machine().memory();
            Model m = new Model(p.cpu(), memory, () -> completed[0]++, 1, 0, random.nextLong());
            holder[0] = m;
            m.attach(new Guest(p.guest(), p.app(), p));
            executor = kind.start(p, IdleMode.BACKOFF);
            long target = random.nextInt(12);
            while (completed[0] < target) {
                // A submit may come back with completions (the kernel's signal rides on io_submit's
                // return when the emulator was quick): wait only while something is in flight.
                m.fill();
                if (m.inFlight() > 0 && completed[0] < target) {
                    executor.runUntil(() -> completed[0], completed[0] + 1);
                }
            }
            m.fill();
            if (executor instanceof InlineExecutor inline) {
                for (int turns = random.nextInt(3); turns > 0; turns--) {
                    inline.runOnce();
                }
            } else {
                executor.close();
            }
            Domain d = p.guest();
            Domain partition = p.partition();
            Emulator emulator = p.emulator();
            GrantOps grants = grantOps(p);
            long[] dma = emulator.inFlightFrames();
            long[] owned = new long[frames.countOwnedBy(d.id())];
            for (long mfn = 0, n = 0; mfn < frames.frames(); mfn++) {
                if (frames.owner(mfn) == d.id()) {
                    owned[(int) n++] = mfn;
                }
            }
            int left = p.destroyGuest();
            m.dead = true;
            assertEquals(0, frames.countOwnedBy(d.id()), d + ": frames still owned by the destroyed domain");
            assertEquals(dma.length > 0, left > 0, d + ": I/Os under way (" + left + ") but frames they reach: " + dma.length);
            for (long mfn : dma) {
                assertEquals(FrameAllocator.OWNER_QUARANTINE, frames.owner(mfn), d + ": frame " + mfn
                    + " of an I/O under way is not in quarantine (DMA may still land there)");
            }
            for (long mfn : owned) {
                int o = frames.owner(mfn);
                assertTrue(o == FrameAllocator.OWNER_QUARANTINE || o == FrameAllocator.OWNER_FREE && zero(memory, mfn),
                    d + ": frame " + mfn + " after the destroy: owner " + o);
            }
            assertNull(p.hypervisor().audit());
            assertNull(grants.audit());
            if (left > 0) {
                if (executor instanceof InlineExecutor inline) {
                    while (!emulator.closed()) {
                        if (inline.runOnce() == 0) {
                            fail(d + ": the emulator never let go (" + emulator.iocbsInFlight() + " I/Os under way)");
                        }
                        for (long mfn : emulator.inFlightFrames()) {
                            assertEquals(FrameAllocator.OWNER_QUARANTINE, frames.owner(mfn), d + ": frame " + mfn
                                + " left quarantine while an I/O still reaches it");
                        }
                    }
                } else {
                    executor = new ThreadedExecutor(p, IdleMode.BACKOFF);
                    try {
                        executor.runUntil(() -> emulator.closed() ? 1 : 0, 1);
                    } finally {
                        executor.close();
                    }
                    assertTrue(emulator.closed(), d + ": the emulator never let go (" + emulator.iocbsInFlight()
                        + " I/Os under way)");
                }
            }
            assertTrue(emulator.closed(), "the emulator let go of " + d);
            assertEquals(0, emulator.unmapFailures(), "unmaps the hypervisor refused the emulator");
            assertEquals(0, grants.mappingsOf(d.id()), d + ": pages the emulator still maps (queues, persistent, requests)");
            assertEquals(0, grants.orphanMappings(partition), "orphaned mappings left in " + partition);
            assertEquals(0, frames.quarantined(), "frames still in quarantine");
            assertEquals(0, p.channels().portsNaming(d.id()), "ports that still name " + d);
            assertEquals(0, m.completionsAfterDeath, d + ": completions after it was destroyed");
            for (long mfn : dma) {
                if (frames.owner(mfn) == FrameAllocator.OWNER_FREE) {
                    assertTrue(zero(memory, mfn), d + ": frame " + mfn + " the device reached after the destroy is not scrubbed");
                }
            }
            for (long mfn : owned) {
                if (frames.owner(mfn) == FrameAllocator.OWNER_FREE) {
                    assertTrue(zero(memory, mfn), d + ": frame " + mfn + " is free but not scrubbed");
                }
            }
            assertNull(p.hypervisor().audit());
            assertNull(grants.audit());
            assertNull(frames.audit());
            assertEquals(0, p.machine().device().errors(), "device errors");
            return left > 0;
        } finally {
            if (executor != null) {
                executor.close();
            }
            p.close();
        }
    }

    private static GrantOps grantOps(EmulatorPlacement p) {
        return p.grantOps();
    }

    static boolean zero(MachineMemory memory, long mfn) {
        long base = mfn << MachineMemory.PAGE_SHIFT;
        for (int i = 0; i < MachineMemory.PAGE_SIZE; i += 8) {
            if (memory.getLong(base + i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** What the test needs of a placement whose guests share one back end. */
    interface Rig extends AutoCloseable {
        IoPath path();

        /** Boots a guest whose virtual disk is {@code [first, first + sectors)}; its app's completions go to {@code listener}. */
        Guest add(String name, long first, long sectors, App.CompletionListener listener);

        /** The toolstack destroys it; returns its requests still on the device. */
        int destroy(Guest g);

        /** The back end's domain. */
        Domain backDomain();

        boolean connected(Domain front);

        int inFlight(Domain front);

        long[] inFlightFrames(Domain front);

        /** The back end's port for the front end, -1 when none. */
        int port(Domain front);

        long disconnects();

        GrantOps grantOps();

        EventChannels channels();

        Hypervisor hypervisor();

        /** What the summary line adds for this placement. */
        default String note() {
            return "";
        }

        /** Per-guest checks of the driver stack's own counters at the end. */
        void checkClean(Guest g);

        @Override
        void close();
    }

    /** A guest as a rig booted it. */
    record Guest(Domain domain, App app, Object handle) {
    }

    /** io-partition: blkback in the partition's kernel. */
    static final class PartitionRig implements Rig {
        final IoPartitionPlacement p;

        PartitionRig(MachineConfig config, GrantMode mode, Executor.Kind kind) {
            p = (IoPartitionPlacement) Placement.IO_PARTITION.open(config, 1, mode, kind.layout());
        }

        @Override
        public IoPath path() {
            return p;
        }

        @Override
        public Guest add(String name, long first, long sectors, App.CompletionListener listener) {
            IoPartitionPlacement.Guest g = p.addGuest(name, DEPTH, first, sectors, listener);
            return new Guest(g.domain, g.app, g);
        }

        @Override
        public int destroy(Guest g) {
            return p.destroyGuest((IoPartitionPlacement.Guest) g.handle());
        }

        @Override
        public Domain backDomain() {
            return p.partition();
        }

        @Override
        public boolean connected(Domain front) {
            return p.back().connected(front);
        }

        @Override
        public int inFlight(Domain front) {
            return p.back().inFlight(front);
        }

        @Override
        public long[] inFlightFrames(Domain front) {
            return p.back().inFlightFrames(front);
        }

        @Override
        public int port(Domain front) {
            return p.back().port(front);
        }

        @Override
        public long disconnects() {
            return p.back().disconnects();
        }

        @Override
        public GrantOps grantOps() {
            return p.grantOps();
        }

        @Override
        public EventChannels channels() {
            return p.channels();
        }

        @Override
        public Hypervisor hypervisor() {
            return p.hypervisor();
        }

        @Override
        public void checkClean(Guest g) {
            IoPartitionPlacement.Guest pg = (IoPartitionPlacement.Guest) g.handle();
            assertEquals(0, pg.front.badResponses(), g.domain() + ": responses with an unknown or answered id");
            assertFalse(pg.front.broken(), g.domain() + ": ring broken");
            assertEquals(0, pg.front.stuckNow(), g.domain() + ": grants the back end still holds");
            assertEquals(0, p.back().unmapFailures(), "unmaps the hypervisor refused the back end");
        }

        @Override
        public void close() {
            p.close();
        }
    }

    /** dom0-emulator: an emulator per guest, processes of the partition's one kernel, on one device. */
    static final class EmulatorRig implements Rig {
        final EmulatorPlacement p;

        EmulatorRig(MachineConfig config, GrantMode mode, Executor.Kind kind) {
            p = (EmulatorPlacement) Placement.DOM0_EMULATOR.open(config, 1, mode, kind.layout());
        }

        private static Emulator emulator(Guest g) {
            return ((EmulatorPlacement.Guest) g.handle()).emulator;
        }

        private final Map<Domain, EmulatorPlacement.Guest> byDomain = new HashMap<>();

        private EmulatorPlacement.Guest of(Domain front) {
            EmulatorPlacement.Guest g = byDomain.get(front);
            if (g == null) {
                throw new IllegalArgumentException("no guest " + front);
            }
            return g;
        }

        @Override
        public IoPath path() {
            return p;
        }

        @Override
        public Guest add(String name, long first, long sectors, App.CompletionListener listener) {
            EmulatorPlacement.Guest g = p.addGuest(name, DEPTH, first, sectors, listener);
            byDomain.put(g.domain, g);
            return new Guest(g.domain, g.app, g);
        }

        @Override
        public int destroy(Guest g) {
            return p.destroyGuest((EmulatorPlacement.Guest) g.handle());
        }

        @Override
        public Domain backDomain() {
            return p.partition();
        }

        @Override
        public boolean connected(Domain front) {
            return !of(front).emulator.closed();
        }

        @Override
        public int inFlight(Domain front) {
            return of(front).emulator.iocbsInFlight();
        }

        @Override
        public long[] inFlightFrames(Domain front) {
            return of(front).emulator.inFlightFrames();
        }

        @Override
        public int port(Domain front) {
            return of(front).requests.port();
        }

        @Override
        public long disconnects() {
            return p.emulatorsClosed();
        }

        @Override
        public GrantOps grantOps() {
            return p.grantOps();
        }

        @Override
        public EventChannels channels() {
            return p.channels();
        }

        @Override
        public Hypervisor hypervisor() {
            return p.hypervisor();
        }

        @Override
        public String note() {
            return String.format(Locale.ROOT, "; the emulators found the partition kernel full %,d times and waited for room",
                p.partitionKernel().roomWaits());
        }

        @Override
        public void checkClean(Guest g) {
            Emulator e = emulator(g);
            assertFalse(e.failed(), g.domain() + ": its emulated device stopped");
            assertEquals(0, e.rejected(), g.domain() + ": commands its emulator refused");
            assertEquals(0, e.unmapFailures(), "unmaps the hypervisor refused the emulator");
            assertEquals(0, e.iocbsInFlight(), g.domain() + ": I/Os its emulator still has under way");
            assertEquals(0, e.waitingForRoom(), g.domain() + ": control blocks its emulator still holds back");
            assertEquals(0, e.app().errors(), g.domain() + ": I/Os of its emulator that failed");
            assertEquals(GUESTS + 1, p.partitionKernel().processes(), "emulator processes in the partition (dead ones left)");
        }

        @Override
        public void close() {
            p.close();
        }
    }

    static Rig open(Placement placement, MachineConfig config, GrantMode mode, Executor.Kind kind) {
        if (placement == Placement.IO_PARTITION) {
            return new PartitionRig(config, mode, kind);
        }
        if (placement == Placement.DOM0_EMULATOR) {
            return new EmulatorRig(config, mode, kind);
        }
        throw new IllegalArgumentException("no rig for " + placement);
    }

    /** One case: the machine, the guests and their models, the rounds. */
    static final class Run implements AutoCloseable {
        final Executor.Kind kind;
        final Random random;
        final Rig rig;
        final IoPath path;
        final Cpu cpu;
        final MachineMemory memory;
        final FrameAllocator frames;
        final long zeroSum;
        final List<Model> models = new ArrayList<>();
        final List<Model> dead = new ArrayList<>();
        Executor executor;
        int nextExtent;
        int round = -1;
        long completedTotal;
        long destroysWithDma;
        long quarantinedFrames;

        Run(Placement placement, Executor.Kind kind, GrantMode mode, long seed) {
            this.kind = kind;
            this.random = new Random(seed);
            MachineConfig config = MachineConfig.defaults().memory(192L << 20).diskBytes(DISK_BYTES);
            if (placement == Placement.DOM0_EMULATOR) {
                // A device queue the eight emulators' I/O overflows: they must wait for room in turn.
                config.queueEntries(EMULATOR_QUEUE_ENTRIES);
            }
            rig = open(placement, config, mode, kind);
            path = rig.path();
            cpu = path.cpu();
            memory = path.machine().memory();
            frames = path.machine().frames();
            zeroSum = zeroFrameChecksum();
            for (int g = 0; g < GUESTS; g++) {
                models.add(newModel(g));
            }
        }

        private long zeroFrameChecksum() {
            long hash = 0xcbf29ce484222325L;
            for (int i = 0; i < MachineMemory.PAGE_SIZE; i += 8) {
                hash *= 0x100000001b3L;
            }
            return hash;
        }

        private Model newModel(int slot) {
            int extent = nextExtent++;
            Model m = new Model(cpu, memory, () -> completedTotal++, extent + 1, (long) extent * EXTENT_SECTORS, random.nextLong());
            Guest g = rig.add("guest" + extent, m.first, EXTENT_SECTORS, m);
            m.attach(g);
            return m;
        }

        long completed() {
            return completedTotal;
        }

        void go() {
            executor = kind.start(path, IdleMode.BACKOFF);
            for (round = 0; round < DESTROYS; round++) {
                runToRandomPoint();
                pause();
                int victimSlot = random.nextInt(GUESTS);
                Model victim = models.get(victimSlot);
                destroyAndCheck(victimSlot, victim);
            }
            round = DESTROYS;
            drain();
            for (Model m : models) {
                m.checkAllAnswered();
                rig.checkClean(m.guest);
            }
            for (Model m : dead) {
                assertEquals(0, m.completionsAfterDeath, m.guest.domain() + ": completions after it was destroyed");
            }
            assertEquals(0, frames.quarantined(), "frames left in quarantine");
            assertNull(frames.audit());
            assertNull(rig.hypervisor().audit());
            assertNull(rig.grantOps().audit());
            assertEquals(0, path.machine().device().errors(), "device errors");
        }

        /** Runs a random number of completions (refilling), submits more, and goes a random bit further. */
        private void runToRandomPoint() {
            long target = completedTotal + random.nextInt(3 * GUESTS);
            fillAll();
            while (completedTotal < target) {
                // Completions may come back on a submit's return: wait only while something is in flight.
                if (inFlight() > 0) {
                    executor.runUntil(this::completed, completedTotal + 1);
                }
                fillAll();
            }
            if (executor instanceof InlineExecutor inline) {
                // 0: on the ring or the device's queue; 1: run by the device and answered...; each turn is one pass.
                for (int turns = random.nextInt(3); turns > 0; turns--) {
                    inline.runOnce();
                }
            } else {
                int more = random.nextInt(2);
                if (inFlight() > 0) {
                    executor.runUntil(this::completed, completedTotal + more);
                }
            }
        }

        private int inFlight() {
            int n = 0;
            for (Model m : models) {
                n += m.inFlight();
            }
            return n;
        }

        private void fillAll() {
            for (Model m : models) {
                m.fill();
            }
        }

        /** Threaded: the machine stops where it is (threads joined); inline nothing runs between calls anyway. */
        private void pause() {
            if (!(executor instanceof InlineExecutor)) {
                executor.close();
            }
        }

        private void resume() {
            if (!(executor instanceof InlineExecutor)) {
                executor = new ThreadedExecutor(path, IdleMode.BACKOFF);
            }
        }

        private void destroyAndCheck(int slot, Model victim) {
            Domain d = victim.guest.domain();
            Domain back = rig.backDomain();
            GrantOps grants = rig.grantOps();
            long[] dma = rig.inFlightFrames(d);
            int port = rig.port(d);
            assertTrue(port > 0, d + ": connected before it is destroyed");
            long[] owned = ownedBy(d.id());
            long disconnectsBefore = rig.disconnects();

            int left = rig.destroy(victim.guest);
            victim.dead = true;
            dead.add(victim);
            assertEquals(0, frames.countOwnedBy(d.id()), d + ": frames still owned by the destroyed domain");
            assertEquals(dma.length > 0, left > 0, d + ": I/Os on the device (" + left + ") but frames they reach: " + dma.length);
            for (long mfn : dma) {
                assertEquals(FrameAllocator.OWNER_QUARANTINE, frames.owner(mfn), d + ": frame " + mfn
                    + " of an I/O still on the device is not in quarantine (DMA may still land there)");
            }
            for (long mfn : owned) {
                int o = frames.owner(mfn);
                assertTrue(o == FrameAllocator.OWNER_QUARANTINE || o == FrameAllocator.OWNER_FREE && zero(mfn),
                    d + ": frame " + mfn + " after the destroy: owner " + o + (o == FrameAllocator.OWNER_FREE ? ", not scrubbed" : ""));
            }
            if (left > 0) {
                destroysWithDma++;
                assertTrue(rig.connected(d), d + ": the back end keeps the connection while its I/O is on the device");
            }
            quarantinedFrames += frames.quarantined();
            assertNull(rig.hypervisor().audit());
            assertNull(grants.audit());

            // A new guest in its place: memory allocated while the old one's frames may be in quarantine.
            Model replacement = newModel(slot);
            models.set(slot, replacement);
            assertQuarantineHolds(d);

            if (left > 0) {
                resume();
                if (executor instanceof InlineExecutor inline) {
                    // Turn by turn: a frame leaves quarantine only once no I/O on the device reaches it.
                    while (rig.disconnects() == disconnectsBefore) {
                        if (inline.runOnce() == 0) {
                            fail(d + ": the back end never closed the connection (" + rig.inFlight(d) + " I/Os on the device)");
                        }
                        assertQuarantineHolds(d);
                    }
                } else {
                    executor.runUntil(rig::disconnects, disconnectsBefore + 1);
                    pause();
                }
            }
            assertEquals(disconnectsBefore + 1, rig.disconnects(), d + ": the back end closed the connection");
            assertFalse(rig.connected(d), d + ": still connected");
            assertEquals(0, grants.mappingsOf(d.id()), d + ": grants the back end still maps (ring, persistent pool, requests)");
            assertEquals(0, grants.orphanMappings(back), "orphaned mappings left in " + back);
            // Closed, or (closed at once, at the destroy) handed out again to the new guest's connection.
            assertTrue(!rig.channels().isOpen(back, port) || rig.port(replacement.guest.domain()) == port,
                d + ": the back end's port " + port + " is still open");
            assertEquals(0, rig.channels().portsNaming(d.id()), "ports that still name " + d);
            assertEquals(0, frames.quarantined(), "frames still in quarantine after the back end closed " + d);
            for (long mfn : dma) {
                int o = frames.owner(mfn);
                assertTrue(o != FrameAllocator.OWNER_QUARANTINE && o != d.id(), "frame " + mfn + ": owner " + o);
                if (o == FrameAllocator.OWNER_FREE) {
                    assertTrue(zero(mfn), d + ": frame " + mfn + " the device reached after the destroy is free but not scrubbed");
                }
            }
            for (long mfn : owned) {
                if (frames.owner(mfn) == FrameAllocator.OWNER_FREE) {
                    assertTrue(zero(mfn), d + ": frame " + mfn + " is free but not scrubbed");
                }
            }
            assertNull(rig.hypervisor().audit());
            assertNull(grants.audit());
            resume();
        }

        /** Every frame an I/O of the dead domain on the device reaches is in quarantine. */
        private void assertQuarantineHolds(Domain d) {
            for (long mfn : rig.inFlightFrames(d)) {
                assertEquals(FrameAllocator.OWNER_QUARANTINE, frames.owner(mfn), d + ": frame " + mfn
                    + " left quarantine (or was handed out) while an I/O on the device still reaches it");
            }
        }

        private long[] ownedBy(int id) {
            long[] out = new long[frames.countOwnedBy(id)];
            int n = 0;
            for (long mfn = 0; mfn < frames.frames(); mfn++) {
                if (frames.owner(mfn) == id) {
                    out[n++] = mfn;
                }
            }
            return out;
        }

        private boolean zero(long mfn) {
            if (memory.frameChecksum(mfn) != zeroSum) {
                return false;
            }
            long base = mfn << MachineMemory.PAGE_SHIFT;
            for (int i = 0; i < MachineMemory.PAGE_SIZE; i += 8) {
                if (memory.getLong(base + i) != 0) {
                    return false;
                }
            }
            return true;
        }

        /** Every live guest's I/O answered, then the machine quiet. */
        private void drain() {
            long outstanding = 0;
            for (Model m : models) {
                outstanding += m.inFlight();
            }
            executor.runUntil(this::completed, completedTotal + outstanding);
            LoadRun.quiesce(executor, path);
        }

        @Override
        public void close() {
            try {
                if (executor != null) {
                    executor.close();
                }
            } finally {
                rig.close();
            }
        }
    }

    /** One guest's app, its disk model and its I/Os in flight (LoadRun's model, smaller). */
    static final class Model implements App.CompletionListener {
        final Cpu cpu;
        final MachineMemory memory;
        final Runnable onCompleted;
        final int owner;
        final long first;
        final Random random;
        final long[] generation = new long[EXTENT_SECTORS];
        final BitSet answered = new BitSet();
        long nextGeneration;
        long issued;
        long completed;
        long completionsAfterDeath;
        boolean dead;
        Guest guest;
        final long[] bufferVa = new long[DEPTH];
        final long[][] pageMa = new long[DEPTH][MAX_SECTORS * SECTOR / MachineMemory.PAGE_SIZE + 1];
        final boolean[] busy = new boolean[DEPTH];
        final long[] slotId = new long[DEPTH];
        final int[] slotOp = new int[DEPTH];
        final long[] slotSector = new long[DEPTH];
        final int[] slotSectors = new int[DEPTH];
        final int[] slotOffset = new int[DEPTH];
        final long[] slotGeneration = new long[DEPTH];
        final int[] batch = new int[DEPTH];

        Model(Cpu cpu, MachineMemory memory, Runnable onCompleted, int owner, long first, long seed) {
            this.cpu = cpu;
            this.memory = memory;
            this.onCompleted = onCompleted;
            this.owner = owner;
            this.first = first;
            this.random = new Random(seed);
        }

        void attach(Guest g) {
            this.guest = g;
            for (int s = 0; s < DEPTH; s++) {
                bufferVa[s] = g.app().allocateBuffer(pageMa[s].length * MachineMemory.PAGE_SIZE);
                for (int p = 0; p < pageMa[s].length; p++) {
                    pageMa[s][p] = g.app().memory().hostTranslate(bufferVa[s] + ((long) p << MachineMemory.PAGE_SHIFT));
                }
            }
        }

        int inFlight() {
            int n = 0;
            for (boolean b : busy) {
                n += b ? 1 : 0;
            }
            return n;
        }

        private long sectorMa(int slot, int i) {
            int offset = (slotOffset[slot] + i) * SECTOR;
            return pageMa[slot][offset >>> MachineMemory.PAGE_SHIFT] + (offset & MachineMemory.PAGE_MASK);
        }

        void fill() {
            int k = 0;
            for (int slot = 0; slot < DEPTH; slot++) {
                if (!busy[slot] && prepare(slot, k)) {
                    batch[k++] = slot;
                }
            }
            if (k == 0) {
                return;
            }
            cpu.idleSwitch(guest.app().kernel().appContext());
            long r = guest.app().submit(cpu, 0, k);
            if (r < 0 && r != -Errno.EAGAIN) {
                fail("guest " + owner + ": io_submit refused: " + Errno.name(r));
            }
            for (int i = (int) Math.max(r, 0); i < k; i++) {
                busy[batch[i]] = false;
                issued--;
            }
        }

        private boolean prepare(int slot, int iocb) {
            int offset = random.nextInt(MachineMemory.PAGE_SIZE / SECTOR);
            int count = 1 + random.nextInt(MAX_SECTORS - offset);
            long sector = -1;
            for (int tries = 0; tries < 16 && sector < 0; tries++) {
                long s = random.nextInt(EXTENT_SECTORS - count + 1);
                if (!overlapsInFlight(s, count)) {
                    sector = s;
                }
            }
            if (sector < 0) {
                return false;
            }
            boolean write = random.nextBoolean();
            slotOffset[slot] = offset;
            slotSectors[slot] = count;
            slotSector[slot] = sector;
            slotOp[slot] = write ? Aio.PWRITE : Aio.PREAD;
            slotId[slot] = issued++;
            if (write) {
                long gen = ++nextGeneration;
                slotGeneration[slot] = gen;
                long head = ((long) owner << 48) | gen;
                for (int i = 0; i < count; i++) {
                    long ma = sectorMa(slot, i);
                    for (int w = 0; w < WORDS; w++) {
                        memory.putLong(ma + 8L * w, LoadRun.word(head, sector + i, w));
                    }
                }
            } else {
                for (int i = 0; i < count; i++) {
                    memory.setMemory(sectorMa(slot, i), SECTOR, (byte) 0xA5);
                }
            }
            busy[slot] = true;
            guest.app().prepare(cpu, iocb, slotOp[slot], sector * SECTOR, bufferVa[slot] + (long) offset * SECTOR,
                count * SECTOR, slotId[slot]);
            return true;
        }

        private boolean overlapsInFlight(long sector, int count) {
            for (int s = 0; s < DEPTH; s++) {
                if (busy[s] && sector < slotSector[s] + slotSectors[s] && slotSector[s] < sector + count) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void onCompletion(Cpu c, long id, int result) {
            if (dead) {
                completionsAfterDeath++;
                fail("guest " + owner + " (" + guest.domain() + "): a completion after it was destroyed, id " + id);
            }
            int slot = -1;
            for (int s = 0; s < DEPTH; s++) {
                if (busy[s] && slotId[s] == id) {
                    slot = s;
                }
            }
            if (slot < 0) {
                fail("guest " + owner + ": a response for id " + id + (id < 0 || id >= issued ? ", never issued"
                    : answered.get((int) id) ? ", answered already (duplicated)" : ", not in flight"));
            }
            int bytes = slotSectors[slot] * SECTOR;
            assertEquals(bytes, result, "guest " + owner + " id " + id + ": result");
            if (slotOp[slot] == Aio.PWRITE) {
                for (int i = 0; i < slotSectors[slot]; i++) {
                    generation[(int) slotSector[slot] + i] = slotGeneration[slot];
                }
            } else {
                for (int i = 0; i < slotSectors[slot]; i++) {
                    verify(slot, i);
                }
            }
            answered.set((int) id);
            busy[slot] = false;
            completed++;
            onCompleted.run();
        }

        private void verify(int slot, int i) {
            long sector = slotSector[slot] + i;
            long gen = generation[(int) sector];
            long ma = sectorMa(slot, i);
            for (int w = 0; w < WORDS; w++) {
                long found = memory.getLong(ma + 8L * w);
                long expected = gen == 0 ? 0 : LoadRun.word(((long) owner << 48) | gen, sector, w);
                if (found != expected) {
                    fail(String.format(Locale.ROOT, "guest %d sector %d word %d: expected generation %d (%#x), found %#x"
                        + " (corrupted)", owner, sector, w, gen, expected, found));
                }
            }
        }

        void checkAllAnswered() {
            String who = "guest " + owner + " (" + guest.domain() + ")";
            assertEquals(issued, completed, who + ": responses (lost requests)");
            assertEquals(issued, answered.cardinality(), who + ": ids answered");
            assertEquals(issued, answered.nextClearBit(0), who + ": the first id never answered");
            for (int s = 0; s < DEPTH; s++) {
                assertFalse(busy[s], who + ": slot " + s + " still in flight");
            }
            assertEquals(0, guest.app().kernel().inFlight(), who + ": kernel I/Os in flight");
            assertEquals(0, guest.app().kernel().badCompletions(), who);
            assertEquals(0, guest.app().badEvents(), who);
            assertEquals(0, guest.app().errors(), who);
        }
    }

    static {
        // A request of up to three pages needs that many segments.
        if (MAX_SECTORS * SECTOR / MachineMemory.PAGE_SIZE + 1 > BlockProtocol.MAX_SEGMENTS) {
            throw new ExceptionInInitializerError("requests larger than the protocol's segments");
        }
    }
}
