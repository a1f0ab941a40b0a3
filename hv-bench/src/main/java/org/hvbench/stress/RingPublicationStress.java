package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.BackRing;
import org.hvbench.core.ring.FrontRing;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.JJ_Result;

/** The front end writes a request's bytes, then publishes req_prod with release order. */
@JCStressTest
@Description("A back end that sees the request producer index also sees the slot's bytes.")
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "the request is not published yet")
@Outcome(id = "1, 42", expect = ACCEPTABLE, desc = "published, and its bytes are there")
@Outcome(expect = FORBIDDEN, desc = "the index was seen before the bytes it publishes")
@State
public class RingPublicationStress {
    private final MachineMemory memory = StressMemory.MEMORY;
    private final FrontRing front;
    private final BackRing back;

    public RingPublicationStress() {
        long page = StressMemory.page();
        front = new FrontRing(memory, StressMemory.IDENTITY, page, BlockProtocol.REQUEST_BYTES, true, 0);
        back = new BackRing(memory, StressMemory.IDENTITY, page, BlockProtocol.REQUEST_BYTES);
    }

    @Actor
    public void frontEnd() {
        memory.putLong(front.nextRequest() + BlockProtocol.SECTOR, 42);
        front.produced();
        front.pushRequestsAndCheckNotify();
    }

    @Actor
    public void backEnd(JJ_Result r) {
        int n = back.unconsumedRequests();
        r.r1 = n;
        r.r2 = n > 0 ? memory.getLong(back.request(0) + BlockProtocol.SECTOR) : 0;
    }
}
