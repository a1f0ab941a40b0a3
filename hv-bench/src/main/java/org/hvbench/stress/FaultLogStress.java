package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.iommu.FaultLog;
import org.hvbench.core.mem.Translation;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Two devices fault at once into a fault log of two records; the second also drains the log right
 * after its fault, racing the first device's records. No fault is lost or read twice: each is read
 * (its record intact) or counted as overflow, never both, never neither. (Two actors: jcstress runs
 * no test with more actors than the machine has CPUs, and CI has two.)
 */
@JCStressTest
@Description("Concurrent faults and a drain on a small log: each fault is logged once or counted as overflow.")
@Outcome(id = "3, 0, 0", expect = ACCEPTABLE, desc = "the drain freed a record in time: all three logged and read intact")
@Outcome(id = "2, 1, 0", expect = ACCEPTABLE, desc = "the log was full for one: two logged and read, one counted as overflow")
@Outcome(expect = FORBIDDEN, desc = "a fault lost, counted twice, or read torn")
@State
public class FaultLogStress {
    private final FaultLog log = new FaultLog(2);
    private int read;
    private int torn;

    @Actor
    public void device() {
        log.record(1, 0x1000, Translation.READ);
        log.record(2, 0x2000, Translation.WRITE);
    }

    @Actor
    public void deviceAndReader() {
        log.record(3, 0x3000, Translation.READ);
        read += log.drain(this::check);
    }

    private void check(int device, long iova, int access) {
        if (iova != device * 0x1000L || access != (device == 2 ? Translation.WRITE : Translation.READ)) {
            torn++;
        }
    }

    @Arbiter
    public void arbiter(III_Result r) {
        int left = log.drain(this::check);
        long overflowed = log.overflowed();
        // r1: faults read or still in the log; r2: overflowed; r3: bad (torn records, mismatched counts).
        r.r1 = read + left;
        r.r2 = (int) overflowed;
        r.r3 = torn + (log.recorded() == read + left && read + left + overflowed == 3 ? 0 : 100);
    }
}
