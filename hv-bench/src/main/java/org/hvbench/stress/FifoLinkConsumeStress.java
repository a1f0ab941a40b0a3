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
 * FIFO event channels, the tail race: port X is alone on its queue and Y waits in the inbox; the
 * drain links Y while the kernel's upcall takes X. In the hypervisor the two run one after the other
 * on the vCPU's CPU, but when a guest's kernel takes its ports is the guest's choice, so the words'
 * protocol must hold when they overlap too. Either Y lands behind X (LINK, no notification) and this upcall follows the
 * link, or X was taken first, Y starts the queue as HEAD and the drain asks for an upcall; then this
 * upcall or the next runs Y. The arbiter is the next upcall, run only when the drain asked for it.
 * r1: 1 when the drain asked; r2: handlers run by the running upcall; r3: 10 x runs of X + runs of
 * Y, + 100 when a word, READY or the inbox is not clean afterwards.
 */
@JCStressTest
@Description("FIFO link against consume of the tail: each port runs exactly once, none waits unannounced.")
@Outcome(id = "0, 2, 11", expect = ACCEPTABLE, desc = "Y linked behind X; the upcall followed the link")
@Outcome(id = "1, 2, 11", expect = ACCEPTABLE, desc = "X taken first; Y started the queue and the running upcall took it")
@Outcome(id = "1, 1, 11", expect = ACCEPTABLE, desc = "X taken first; Y started the queue after the upcall's last look: the next upcall ran it")
@Outcome(expect = FORBIDDEN, desc = "a port lost (queued, no notification, not run) or run twice")
@State
public class FifoLinkConsumeStress {
    private static final int X = 3;
    private static final int Y = 9;
    private final FifoFixture fifo = new FifoFixture(64);
    private int ranX;
    private int ranY;

    public FifoLinkConsumeStress() {
        fifo.kernel.bind(X, (cpu, port) -> ranX++);
        fifo.kernel.bind(Y, (cpu, port) -> ranY++);
        fifo.queues.setPending(X);
        fifo.queues.drain(); // READY set: the upcall below is the one it asked for
        fifo.queues.setPending(Y);
    }

    @Actor
    public void drain(III_Result r) {
        r.r1 = fifo.queues.drain();
    }

    @Actor
    public void upcall(III_Result r) {
        r.r2 = fifo.kernel.consume(null);
    }

    @Arbiter
    public void nextUpcall(III_Result r) {
        if (r.r1 == FifoQueues.NOTIFY) {
            fifo.kernel.consume(null);
        }
        boolean clean = fifo.clean(X, Y) && fifo.queues.linked() == 2;
        r.r3 = 10 * ranX + ranY + (clean ? 0 : 100);
    }
}
