package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.evtchn.FifoQueues;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * FIFO event channels: the hypervisor sets a masked port pending while the kernel unmasks it (by
 * itself when nothing is pending, else through the hypervisor's unmask, which claims the waiting
 * event). Exactly one of them must claim the port, put it in the inbox and ask for the
 * notification. The arbiter is the vCPU's CPU taking that notification: the drain links the port,
 * then the kernel's upcall ({@link FifoDispatcher}), run only when one of them notified. r1, r2: 1
 * when the send or the unmask claimed the port and notified; r3: handler runs, + 10 when the port's
 * word, READY or the inbox is not clean afterwards, + 100 when the port was linked other than once.
 */
@JCStressTest
@Description("FIFO claim against unmask: the port is claimed, notified, linked and run exactly once.")
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "the unmask came first: the send claimed the port")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "the send found the mask: the unmask claimed the waiting event")
@Outcome(expect = FORBIDDEN, desc = "claimed twice or never, or the handler run other than once")
@State
public class FifoUnmaskStress {
    private static final int PORT = 5;
    private final FifoFixture fifo = new FifoFixture(64);
    private int ran;

    public FifoUnmaskStress() {
        fifo.kernel.bind(PORT, (cpu, port) -> ran++);
        fifo.kernel.mask(PORT);
    }

    @Actor
    public void send(III_Result r) {
        r.r1 = fifo.queues.setPending(PORT);
    }

    @Actor
    public void unmask(III_Result r) {
        r.r2 = fifo.kernel.unmaskLocally(PORT) ? 0 : fifo.queues.unmask(PORT);
    }

    @Arbiter
    public void upcall(III_Result r) {
        if (r.r1 == FifoQueues.NOTIFY || r.r2 == FifoQueues.NOTIFY) {
            fifo.upcall();
        }
        r.r3 = ran + (fifo.clean(PORT) ? 0 : 10) + (fifo.queues.linked() != 1 ? 100 : 0);
    }
}
