package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.evtchn.FifoDispatcher;
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
 * FIFO event channels: the hypervisor sets a masked port pending while the kernel unmasks it (by
 * itself when nothing is pending, else through the hypervisor's unmask, which links the waiting
 * event). Exactly one of them must link the port and ask for the notification. The arbiter is the
 * kernel's upcall ({@link FifoDispatcher}), run only when one of them notified. r1, r2: 1 when the
 * send or the unmask linked the port and notified; r3: handler runs, + 10 when the port's word is
 * not clean afterwards, + 100 when the port was linked other than once.
 */
@JCStressTest
@Description("FIFO link against unmask: the port is linked, notified and run exactly once.")
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "the unmask came first: the send linked the port")
@Outcome(id = "0, 1, 1", expect = ACCEPTABLE, desc = "the send found the mask: the unmask linked the waiting event")
@Outcome(expect = FORBIDDEN, desc = "linked twice or never, or the handler run other than once")
@State
public class FifoUnmaskStress {
    private static final int PORT = 5;
    private static final int PORTS = 64;
    private final MachineMemory memory = StressMemory.MEMORY;
    private final FifoQueues queues;
    private final FifoDispatcher kernel;
    private int ran;

    public FifoUnmaskStress() {
        long control = StressMemory.page();
        long array = control + 256;
        queues = new FifoQueues(memory, control, array, PORTS);
        kernel = new FifoDispatcher(null, null, memory, StressMemory.IDENTITY, control, array, PORTS, 8);
        kernel.bind(PORT, (cpu, port) -> ran++);
        kernel.mask(PORT);
    }

    @Actor
    public void send(III_Result r) {
        r.r1 = queues.setPending(PORT);
    }

    @Actor
    public void unmask(III_Result r) {
        r.r2 = kernel.unmaskLocally(PORT) ? 0 : queues.unmask(PORT);
    }

    @Arbiter
    public void upcall(III_Result r) {
        if (r.r1 == FifoQueues.NOTIFY || r.r2 == FifoQueues.NOTIFY) {
            kernel.consume(null);
        }
        r.r3 = ran + (queues.word(PORT) != 0 ? 10 : 0) + (queues.linked() != 1 ? 100 : 0);
    }
}
