package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.BackRing;
import org.hvbench.core.ring.FrontRing;
import org.hvbench.core.ring.SharedRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZ_Result;

/**
 * The sleep/notify handshake of the shared ring, as the ring classes do it (two full fences): the
 * front end publishes and checks req_event; the back end, about to sleep, sets req_event and checks
 * req_prod again. At least one of them must see the other.
 */
@JCStressTest
@Description("No lost wake-up: the producer notifies, or the consumer finds the request before sleeping.")
@Outcome(id = "true, true", expect = ACCEPTABLE, desc = "both saw each other")
@Outcome(id = "true, false", expect = ACCEPTABLE, desc = "the producer notifies a sleeping back end")
@Outcome(id = "false, true", expect = ACCEPTABLE, desc = "the back end found the request and stays awake")
@Outcome(id = "false, false", expect = FORBIDDEN, desc = "lost wake-up: a request waits and nobody is told")
@State
public class RingWakeupStress {
    private final FrontRing front;
    private final BackRing back;

    public RingWakeupStress() {
        MachineMemory memory = StressMemory.MEMORY;
        long page = StressMemory.page();
        front = new FrontRing(memory, StressMemory.IDENTITY, page, BlockProtocol.REQUEST_BYTES, true, 0);
        back = new BackRing(memory, StressMemory.IDENTITY, page, BlockProtocol.REQUEST_BYTES);
        // The back end is busy: it has not asked for an event yet.
        memory.putInt(page + SharedRing.REQ_EVENT, 0);
    }

    @Actor
    public void frontEnd(ZZ_Result r) {
        front.produced();
        r.r1 = front.pushRequestsAndCheckNotify();
    }

    @Actor
    public void backEnd(ZZ_Result r) {
        r.r2 = back.finalCheckForRequests();
    }
}
