package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

import org.hvbench.core.exec.Executor;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.BlockProtocol;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Load: {@value LoadRun#GUESTS} guests on one back end (the io-partition's blkback), each with a virtual disk
 * of its own on the same device, {@value LoadRun#DEPTH} I/Os in flight per guest, random reads and writes of
 * random whole-sector sizes (1 sector up to the block protocol's {@value BlockProtocol#MAX_SEGMENTS}
 * segments in one request) at random sectors, under the inline and the threaded executor, on a RAM
 * disk and on a file disk. Proves:
 * <ul>
 * <li>every request gets exactly one response: counted per guest by id, none missing, none twice,
 *     none for an id never issued;</li>
 * <li>every sector read back matches a per-guest model: a write stamps (guest, sector, generation)
 *     into every 8-byte word of every sector, so a read is checked word for word against the last
 *     write to that sector, or against what the disk held at the start (zeros for the RAM disk, a
 *     pattern written into the file for the file disk); read buffers are poisoned first;</li>
 * <li>nothing leaks: every guest's grant references are back, no grant stays mapped (beyond the
 *     persistent pool, by design), every frame the run took is a page-table node of a new mapping,
 *     no event or virtual interrupt is left pending, every ring is empty with its indices agreeing.</li>
 * </ul>
 *
 * <p>Requests per case: {@value #DEFAULT_REQUESTS} by default (eight cases inside {@code mvn verify},
 * about half a minute on two busy cores); the full million per case with
 * {@code -Dhvbench.load.requests=1000000} (minutes per case). Threaded idle strategies:
 * {@code -Dhvbench.load.idle=spin,backoff,park} (default backoff); grant modes:
 * {@code -Dhvbench.load.grantModes=persistent} (given, each runs on both disks); event layout:
 * {@code -Dhvbench.load.events=fifo} (default two-level). Alone:
 * {@code mvn -B -o -pl hv-core surefire:test -Dtest=LoadTest} after a build, or by its tag
 * {@code -Dgroups=load}. Each case prints a one-line summary. The guests, their model and the checks
 * are {@link LoadRun}'s, shared with {@link FaultLoadTest}.
 */
@Tag("load")
class LoadTest {
    static final long DEFAULT_REQUESTS = 25_000;

    @TempDir
    Path dir;

    /**
     * Every executor (threaded with each idle strategy asked for) on both disks, with each grant mode
     * asked for; by default persistent grants on both disks and the map and copy modes (whose grants
     * end with every request) on the RAM disk.
     */
    static Stream<Arguments> cases() {
        String modes = System.getProperty("hvbench.load.grantModes");
        Stream.Builder<Arguments> cases = Stream.builder();
        for (String m : (modes == null ? "persistent,map,copy" : modes).split(",")) {
            GrantMode mode = GrantMode.parse(m.trim());
            for (boolean file : new boolean[] {false, true}) {
                if (file && modes == null && mode != GrantMode.PERSISTENT) {
                    continue;
                }
                cases.add(Arguments.of(Executor.Kind.INLINE, IdleMode.BACKOFF, file, mode));
                for (String idle : System.getProperty("hvbench.load.idle", "backoff").split(",")) {
                    cases.add(Arguments.of(Executor.Kind.THREADED, IdleMode.parse(idle.trim()), file, mode));
                }
            }
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1} file={2} {3}")
    @MethodSource("cases")
    void everyRequestGetsOneResponseAndEveryBlockReadsBackAsWritten(Executor.Kind kind, IdleMode idle, boolean fileDisk,
                                                                    GrantMode mode) throws IOException {
        long requests = Long.getLong("hvbench.load.requests", DEFAULT_REQUESTS);
        long start = System.nanoTime();
        try (LoadRun run = new LoadRun(dir, kind, fileDisk, mode, requests, kind.ordinal() * 1000L)) {
            IoPartitionPlacement placement = run.placement;
            try (Executor executor = kind.start(run.path, idle)) {
                while (run.completedTotal < requests) {
                    long done = run.completedTotal;
                    run.fill();
                    // At least one completion before the next fill (it may have come during this one).
                    executor.runUntil(run::completed, done + 1);
                }
                LoadRun.quiesce(executor, run.path);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            run.checkAllAnswered();
            assertEquals(requests, placement.back().requests(), "the back end took every request from a ring");
            assertEquals(0, placement.back().rejected(), "no request was refused");
            assertEquals(0, placement.back().brokenRings());
            assertEquals(0, run.path.machine().device().errors());
            run.assertNothingLeaked();
            System.out.printf(Locale.ROOT, "load: %s%s, %s disk, %s grants: %d guests, %,d requests, %,d bytes written and"
                    + " %,d bytes read verified (%,d never-written sectors read as initialised); 0 lost, 0 duplicated,"
                    + " 0 unknown ids, 0 leaked; %.1f s%n",
                kind.id(), kind == Executor.Kind.THREADED ? " " + idle : "", fileDisk ? "file" : "RAM", mode, LoadRun.GUESTS,
                run.issuedTotal, run.bytesWritten, run.bytesRead, run.sectorsNeverWrittenRead, seconds);
        }
    }
}
