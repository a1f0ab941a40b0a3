package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.Stream;

import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.evtchn.FifoEvents;
import org.hvbench.core.exec.Executor;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.BlockBack;
import org.hvbench.core.guest.BlockFront;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Store;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.FrameAllocator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fault run of issue 7: the load of {@link LoadTest} ({@value LoadRun#GUESTS} guests, random
 * reads and writes of 1 to 88 sectors, {@value LoadRun#DEPTH} in flight each, on a file disk) while
 * the toolstack destroys the driver domain and builds a new one, again and again, every R completed
 * requests in all (R drawn, seeded, from {@code hvbench.load.restartEvery}, default
 * {@value #DEFAULT_EVERY}), with up to 512 requests in flight wherever they are.
 *
 * <p>Where the requests are when the partition goes: inline, at the end of an executor turn (on the
 * rings, in the device's queue, answered), or after a fresh submission of every guest (new requests
 * on the rings, the back end's events pending), or after that and one run of the device (written to
 * the disk, the interrupt pending, nothing answered); threaded, the executor is closed wherever its
 * threads had got to (stopping them: the partition paused, the device quiet), then the same three
 * choices, and a new executor goes on after the rebuild.
 *
 * <p>At every restart: the destroyed partition leaves no frame ({@code countOwnedBy} its id is 0,
 * and free frames grow by exactly its frames, its page-table nodes and its shared-info page); no
 * guest's grant is in use nor mapped; every front end is CLOSED and then CONNECTED to the new
 * partition; and for every guest, each I/O in flight is either completed at the close (its answer
 * taken from the old ring or delivered on the close) or sent again: exactly one of the two. At the
 * end, everything {@link LoadRun} checks (every id of every guest answered once, reads against the
 * model, no leak against the snapshot taken before the first restart), and after the machine is
 * closed every sector of every guest in the disk file itself against the model: the model takes a
 * write as the disk's content only when it is acknowledged, and a write in flight at a restart has
 * either landed or is sent again (the same data, idempotent), while no other I/O of that guest
 * touches its sectors meanwhile (LoadRun never has overlapping I/Os of a guest in flight).
 *
 * <p>Default: {@value #DEFAULT_REQUESTS} requests per case (about five restarts), persistent grants,
 * inline and threaded (backoff). The full run:
 * {@code -Dhvbench.load.requests=1000000 -Dhvbench.load.restartEvery=2000..16000}; also
 * {@code -Dhvbench.load.grantModes=persistent,map,copy}, {@code -Dhvbench.load.idle=...} and
 * {@code -Dhvbench.load.events=fifo} as for {@link LoadTest}. A partition's domain id is never reused, so a machine has room for about 189
 * restarts ({@link Hypervisor#MAX_DOMAINS} less the guests); the test fails naming this if asked
 * for more.
 */
@Tag("load")
class FaultLoadTest {
    static final long DEFAULT_REQUESTS = 10_000;
    static final String DEFAULT_EVERY = "500..3000";
    /** Where the I/Os are when the partition is destroyed (after the executor's turn or stop). */
    private static final String[] STAGES = {"as the executor left them", "after a fresh submission",
        "after a fresh submission and a run of the device", "with answers behind masked ports"};
    private static final int MASKED = 3;

    @TempDir
    Path dir;

    private int restarts;
    private final int[] stages = new int[STAGES.length];
    private long takenByBackEnds;
    /** Completions the app saw during a destroy: answers on the old ring, taken by event or by the close. */
    private long completedAtClose;
    private final List<Integer> destroyedIds = new ArrayList<>();

    /** Persistent grants (or each mode asked for), inline and threaded with each idle strategy asked for. */
    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (String m : System.getProperty("hvbench.load.grantModes", "persistent").split(",")) {
            GrantMode mode = GrantMode.parse(m.trim());
            cases.add(Arguments.of(Executor.Kind.INLINE, IdleMode.BACKOFF, mode));
            for (String idle : System.getProperty("hvbench.load.idle", "backoff").split(",")) {
                cases.add(Arguments.of(Executor.Kind.THREADED, IdleMode.parse(idle.trim()), mode));
            }
        }
        return cases.build();
    }

    /** {@code lo..hi}, both at least 1. */
    static long[] range(String spec) {
        String[] parts = spec.trim().split("\\.\\.");
        long lo = Long.parseLong(parts[0].trim());
        long hi = parts.length > 1 ? Long.parseLong(parts[1].trim()) : lo;
        if (parts.length > 2 || lo < 1 || hi < lo) {
            throw new IllegalArgumentException("hvbench.load.restartEvery: '" + spec + "'; use lo..hi with 1 <= lo <= hi");
        }
        return new long[] {lo, hi};
    }

    /** Completions until the next restart: uniform in {@code every[0]..every[1]}. */
    private static long gap(long[] every, Random faults) {
        return every[0] + (long) (faults.nextDouble() * (every[1] - every[0] + 1));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void restartsOfTheDriverDomainUnderLoadLoseAndRepeatNothing(Executor.Kind kind, IdleMode idle, GrantMode mode)
            throws IOException {
        long requests = Long.getLong("hvbench.load.requests", DEFAULT_REQUESTS);
        long[] every = range(System.getProperty("hvbench.load.restartEvery", DEFAULT_EVERY));
        Random faults = new Random(0xFA17L + kind.ordinal());
        long start = System.nanoTime();
        LoadRun run = new LoadRun(dir, kind, true, mode, requests, 100_000L + kind.ordinal() * 1000L);
        long reissued = 0;
        long answeredAtClose = 0;
        try {
            IoPartitionPlacement placement = run.placement;
            Executor executor = kind.start(run.path, idle);
            try {
                long nextRestart = gap(every, faults);
                while (run.completedTotal < requests) {
                    long done = run.completedTotal;
                    run.fill();
                    executor.runUntil(run::completed, done + 1);
                    if (run.completedTotal >= nextRestart && run.completedTotal < requests) {
                        executor = restart(run, executor, kind, idle, faults);
                        nextRestart = run.completedTotal + gap(every, faults);
                    }
                }
                LoadRun.quiesce(executor, run.path);
            } finally {
                executor.close();
            }
            run.checkAllAnswered();
            BlockBack back = placement.back();
            takenByBackEnds += back.requests();
            assertEquals(0, back.rejected(), "no request was refused");
            assertEquals(0, back.brokenRings());
            assertEquals(0, run.path.machine().device().errors());
            assertTrue(restarts >= 1, "the partition was restarted: " + restarts + " times");
            for (LoadRun.LoadGuest lg : run.guests) {
                assertEquals(restarts, lg.guest.front.reconnections(), lg.guest.domain + ": reconnections");
                reissued += lg.guest.front.reissued();
                answeredAtClose += lg.guest.front.answeredAtClose();
            }
            assertEquals(restarts, placement.front().reconnections(), "the first guest (idle) reconnected too");
            assertTrue(reissued > 0, "requests caught in flight were sent again");
            // Each request was taken by the back end that answered it; every other take was by one
            // that was destroyed before answering, and was followed by a re-issue.
            assertTrue(takenByBackEnds >= requests && takenByBackEnds <= requests + reissued,
                "requests taken by the " + (restarts + 1) + " back ends: " + takenByBackEnds + " for " + requests
                    + " requests, " + reissued + " re-issued");
            FrameAllocator frames = run.path.machine().frames();
            for (int id : destroyedIds) {
                assertEquals(0, frames.countOwnedBy(id), "frames of the destroyed partition " + id);
            }
            run.assertNothingLeaked();
        } finally {
            run.close();
        }
        long fileBytes = run.assertFileHoldsModel();
        assertEquals(LoadRun.DISK_BYTES, fileBytes, "every guest's extent of the file checked");
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "fault: %s%s, file disk, %s grants%s: %d guests, %,d requests, %,d restarts, %,d"
                + " requests re-issued, %,d answered at close (%,d completed during a destroy in all), %,d bytes written and"
                + " %,d bytes read verified, %,d bytes of the disk file verified after the run; 0 lost, 0 duplicated,"
                + " 0 unknown ids, 0 leaked; %.1f s (restarts %s: %d, %s: %d, %s: %d, %s: %d)%n",
            kind.id(), kind == Executor.Kind.THREADED ? " " + idle : "", mode,
            run.path.machine().config().fifoEvents() ? ", FIFO events" : "", LoadRun.GUESTS, run.issuedTotal, restarts,
            reissued, answeredAtClose, completedAtClose, run.bytesWritten, run.bytesRead, fileBytes, seconds,
            STAGES[0], stages[0], STAGES[1], stages[1], STAGES[2], stages[2], STAGES[3], stages[3]);
    }

    /**
     * The toolstack destroys the partition with the I/Os where they are and builds a new one; checks
     * what must hold across it. Returns the executor to go on with (threaded: a new one).
     */
    private Executor restart(LoadRun run, Executor executor, Executor.Kind kind, IdleMode idle, Random faults) {
        IoPartitionPlacement placement = run.placement;
        Hypervisor hv = placement.hypervisor();
        int lastId = 0;
        for (Domain d : hv.domains()) {
            lastId = Math.max(lastId, d.id());
        }
        if (lastId + 1 >= Hypervisor.MAX_DOMAINS) {
            fail("no domain id left for partition " + (restarts + 2) + ": ids are never reused and a machine has "
                + Hypervisor.MAX_DOMAINS + "; ask for fewer restarts (hvbench.load.restartEvery)");
        }
        int stage = faults.nextInt(STAGES.length);
        stages[stage]++;
        if (stage == MASKED) {
            answerBehindMaskedPorts(run, executor, faults);
        }
        if (kind == Executor.Kind.THREADED) {
            executor.close();
        }
        if (stage == 1 || stage == 2) {
            run.fill();
        }
        if (stage == 2) {
            run.path.machine().device().doWork();
        }

        int n = run.guests.size();
        int[] inFlight = new int[n];
        long[] completed = new long[n];
        long[] reissued = new long[n];
        long[] closed = new long[n];
        for (int g = 0; g < n; g++) {
            LoadRun.LoadGuest lg = run.guests.get(g);
            inFlight[g] = lg.inFlight();
            assertEquals(inFlight[g], lg.guest.kernel.inFlight(), lg.guest.domain + ": I/Os in flight");
            completed[g] = lg.completed;
            reissued[g] = lg.guest.front.reissued();
            closed[g] = lg.guest.front.answeredAtClose();
        }
        BlockBack back = placement.back();
        takenByBackEnds += back.requests();
        assertEquals(0, back.rejected(), "no request was refused");
        assertEquals(0, back.brokenRings());

        Domain old = placement.partition();
        FrameAllocator frames = run.path.machine().frames();
        // Its frames, its p2m's page-table nodes, its shared-info page, and with FIFO events the two
        // frames of its control block and event array (the hypervisor's).
        FifoEvents fifo = placement.fifoEvents();
        int free = frames.freeFrames() + frames.countOwnedBy(old.id()) + old.space().table().tableFrames() + 1
            + (fifo != null && fifo.enabled(old) ? 2 : 0);
        placement.destroyPartition();
        restarts++;
        destroyedIds.add(old.id());
        String when = "restart " + restarts + " (" + STAGES[stage] + ")";
        assertTrue(old.destroyed());
        assertEquals(0, frames.countOwnedBy(old.id()), when + ": no frame of the destroyed partition is left");
        assertEquals(free, frames.freeFrames(), when + ": its frames, page-table nodes, shared-info page (and FIFO frames) are free");
        assertClosedAndNothingInUse(placement, placement.guest(), placement.front(), placement.guestGrants(), when);
        for (LoadRun.LoadGuest lg : run.guests) {
            assertClosedAndNothingInUse(placement, lg.guest.domain, lg.guest.front, lg.guest.grants, when);
        }

        placement.rebuildPartition();
        assertNotEquals(old.id(), placement.partition().id());
        for (int g = 0; g < n; g++) {
            LoadRun.LoadGuest lg = run.guests.get(g);
            BlockFront front = lg.guest.front;
            String who = when + ", " + lg.guest.domain;
            assertEquals(Store.CONNECTED, front.state(), who);
            assertEquals(placement.partition().id(), front.backendId(), who);
            assertEquals(restarts, front.reconnections(), who);
            long seen = lg.completed - completed[g];
            long again = front.reissued() - reissued[g];
            long drained = front.answeredAtClose() - closed[g];
            assertTrue(seen >= drained, who + ": " + drained + " taken from the old ring, " + seen + " completed");
            assertEquals(inFlight[g], seen + again, who + ": of " + inFlight[g] + " I/Os in flight, " + seen
                + " completed at the close (" + drained + " from the old ring) and " + again + " sent again");
            assertEquals(again, lg.inFlight(), who + ": in flight after the rebuild");
            completedAtClose += seen;
        }
        return kind == Executor.Kind.THREADED ? kind.start(run.path, idle) : executor;
    }

    /**
     * A fresh submission; then about half the guests (never the first) mask their event port, and the
     * machine runs until the others have had some completions: the masked guests' answers stay on
     * their rings unseen, for the front end to take from the old ring when its back end has gone.
     */
    private static void answerBehindMaskedPorts(LoadRun run, Executor executor, Random faults) {
        run.fill();
        long others = 0;
        for (int g = 0; g < run.guests.size(); g++) {
            LoadRun.LoadGuest lg = run.guests.get(g);
            if (g > 0 && faults.nextBoolean()) {
                mask(lg.guest.events, lg.guest.front.port());
            } else {
                others += lg.inFlight();
            }
        }
        executor.runUntil(run::completed, run.completedTotal + Math.min(32, others));
    }

    /** The guest kernel masks {@code port}, in either event layout. */
    private static void mask(EventPorts events, int port) {
        if (events instanceof FifoDispatcher) {
            ((FifoDispatcher) events).mask(port);
        } else {
            ((EventDispatcher) events).mask(port);
        }
    }

    /** The front end saw its back end go; no grant of its domain is mapped or in use. */
    private static void assertClosedAndNothingInUse(IoPartitionPlacement placement, Domain guest, BlockFront front,
                                                    GrantTable grants, String when) {
        assertEquals(Store.CLOSED, front.state(), when + ", " + guest);
        assertEquals(0, placement.grantOps().pinned(guest), when + ", " + guest + ": grants of the guest mapped");
        DriverDomainRestartTest.assertNoEntryInUse(grants);
    }
}
