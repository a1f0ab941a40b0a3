package org.hvbench.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Copies per second for {@link RawCopyBench}, comparable with {@link IoCounters#ios}. */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class CopyCounters {
    /** Copies of {@code size} bytes done: one per I/O the placements would do. */
    public long ios;

    @Setup(Level.Iteration)
    public void clear() {
        ios = 0;
    }
}
