package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.evtchn.FifoLayout;
import org.hvbench.core.evtchn.FifoQueues;
import org.hvbench.core.mem.MachineMemory;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * FIFO event channels, the tail race: port X is alone on its queue and the kernel's upcall is taking
 * it while the hypervisor links port Y. Either Y lands behind X (LINK, no notification) and this
 * upcall follows the link, or X was taken first, Y starts the queue as HEAD and the notification is
 * asked for; then this upcall or the next runs Y. The arbiter is the next upcall, run only when the
 * send notified. r1: 1 when the send notified; r2: handlers run by the running upcall; r3: 10 x runs
 * of X + runs of Y, + 100 when a word or READY is not clean afterwards.
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
    private static final int PORTS = 64;
    private final MachineMemory memory = StressMemory.MEMORY;
    private final long control;
    private final FifoQueues queues;
    private final FifoDispatcher kernel;
    private int ranX;
    private int ranY;

    public FifoLinkConsumeStress() {
        control = StressMemory.page();
        long array = control + 256;
        queues = new FifoQueues(memory, control, array, PORTS);
        kernel = new FifoDispatcher(null, null, memory, StressMemory.IDENTITY, control, array, PORTS, 8);
        kernel.bind(X, (cpu, port) -> ranX++);
        kernel.bind(Y, (cpu, port) -> ranY++);
        queues.setPending(X); // notified: the upcall below is that notification's
    }

    @Actor
    public void send(III_Result r) {
        r.r1 = queues.setPending(Y);
    }

    @Actor
    public void upcall(III_Result r) {
        r.r2 = kernel.consume(null);
    }

    @Arbiter
    public void nextUpcall(III_Result r) {
        if (r.r1 == FifoQueues.NOTIFY) {
            kernel.consume(null);
        }
        boolean clean = queues.word(X) == 0 && queues.word(Y) == 0 && memory.getIntVolatile(control + FifoLayout.READY) == 0;
        r.r3 = 10 * ranX + ranY + (clean ? 0 : 100);
    }
}
