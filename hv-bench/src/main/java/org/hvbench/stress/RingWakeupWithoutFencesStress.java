package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;

import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.SharedRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZ_Result;

/**
 * The same handshake as {@link RingWakeupStress} with only release stores and acquire loads, no full
 * fences: each side's store may still sit in its store buffer when it reads the other's word, so both
 * can miss each other. This is why {@code FrontRing} and {@code BackRing} fence; the interesting
 * outcome is the lost wake-up they prevent.
 */
@JCStressTest
@Description("Without the full fences a wake-up can be lost (store-load reordering).")
@Outcome(id = "true, true", expect = ACCEPTABLE, desc = "both saw each other")
@Outcome(id = "true, false", expect = ACCEPTABLE, desc = "the producer notifies")
@Outcome(id = "false, true", expect = ACCEPTABLE, desc = "the back end found the request")
@Outcome(id = "false, false", expect = ACCEPTABLE_INTERESTING, desc = "lost wake-up, as expected without fences")
@State
public class RingWakeupWithoutFencesStress {
    private final MachineMemory memory = StressMemory.MEMORY;
    private final long page = StressMemory.page();

    @Actor
    public void frontEnd(ZZ_Result r) {
        memory.putIntRelease(page + SharedRing.REQ_PROD, 1);
        int event = memory.getIntAcquire(page + SharedRing.REQ_EVENT);
        r.r1 = event == 1;
    }

    @Actor
    public void backEnd(ZZ_Result r) {
        memory.putIntRelease(page + SharedRing.REQ_EVENT, 1);
        r.r2 = memory.getIntAcquire(page + SharedRing.REQ_PROD) != 0;
    }
}
