package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.evtchn.FifoQueues;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * FIFO event channels, the inbox: port X is queued and its upcall is due; a sender on another CPU
 * sets Y pending while the vCPU's own CPU sets Z pending and then runs the upcall: the drain links
 * what the inbox holds behind X, the kernel takes the queue. (Two senders, one of them the vCPU's
 * CPU: jcstress runs no more actors than there are CPUs.) Y and Z sit in different inbox words.
 * The arbiter is the upcall the other CPU's notification brings, run only when it notified. r1: 1
 * when the other CPU's send notified; r2: handlers run by the vCPU's upcall; r3: 100 x runs of X +
 * 10 x runs of Y + runs of Z, + 1000 when a word, READY or the inbox is not clean afterwards or the
 * kernel met a corrupt queue.
 */
@JCStressTest
@Description("FIFO inbox: ports sent from two CPUs while the owner drains are each linked and run exactly once.")
@Outcome(id = "1, 3, 111", expect = ACCEPTABLE, desc = "Y came first and notified; the vCPU's drain took Y and Z")
@Outcome(id = "0, 3, 111", expect = ACCEPTABLE, desc = "Z came first and notified; Y joined it before the drain")
@Outcome(id = "1, 2, 111", expect = ACCEPTABLE, desc = "Y came after the drain: it notified, the next upcall ran it")
@Outcome(expect = FORBIDDEN, desc = "a port lost (left in the inbox or on a queue without a notification), run twice, or a cycle")
@State
public class FifoInboxStress {
    private static final int X = 9;
    private static final int Y = 70;
    private static final int Z = 5;
    private final FifoFixture fifo = new FifoFixture(128);
    private int ranX;
    private int ranY;
    private int ranZ;

    public FifoInboxStress() {
        fifo.kernel.bind(X, (cpu, port) -> ranX++);
        fifo.kernel.bind(Y, (cpu, port) -> ranY++);
        fifo.kernel.bind(Z, (cpu, port) -> ranZ++);
        fifo.queues.setPending(X);
        fifo.queues.drain(); // X is the tail and READY is set: the vCPU's upcall below is due
    }

    @Actor
    public void otherCpu(III_Result r) {
        r.r1 = fifo.queues.setPending(Y);
    }

    @Actor
    public void vcpu(III_Result r) {
        fifo.queues.setPending(Z); // its own notification would bring it to the upcall below anyway
        fifo.queues.drain();
        r.r2 = fifo.kernel.consume(null);
    }

    @Arbiter
    public void nextUpcall(III_Result r) {
        if (r.r1 == FifoQueues.NOTIFY) {
            fifo.upcall();
        }
        boolean clean = fifo.clean(X, Y, Z) && fifo.queues.linked() == 3;
        r.r3 = 100 * ranX + 10 * ranY + ranZ + (clean ? 0 : 1000);
    }
}
