package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.evtchn.TwoLevelEvents;
import org.hvbench.core.mem.MachineMemory;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Two-level event channels: the hypervisor sets a masked port pending (the words of
 * {@code EventChannels.deliver}) while the kernel's unmask clears the mask (the words of
 * {@code EVTCHN_UNMASK}). Each writes, then reads the other's word; at least one must see the other
 * and raise the upcall. The arbiter is the kernel's upcall ({@link EventDispatcher}), run only when
 * one of them kicked the vCPU: the event runs exactly once. r1, r2: what the send and the unmask
 * returned (0 none, 1 masked, 2 raised, 3 raised and kicked); r3: handler runs.
 */
@JCStressTest
@Description("No lost event: a send to a masked port racing its unmask raises exactly one kicked upcall.")
@Outcome(id = "1, 3, 1", expect = ACCEPTABLE, desc = "the send found the mask; the unmask found the event and kicked")
@Outcome(id = "3, 0, 1", expect = ACCEPTABLE, desc = "the unmask came first; the send kicked")
@Outcome(id = "3, 2, 1", expect = ACCEPTABLE, desc = "each saw the other; the send kicked, the unmask found the upcall raised")
@Outcome(id = "2, 3, 1", expect = ACCEPTABLE, desc = "each saw the other; the unmask kicked, the send found the upcall raised")
@Outcome(expect = FORBIDDEN, desc = "lost event (pending, unmasked, no upcall), two kicks, or the handler run other than once")
@State
public class TwoLevelUnmaskStress {
    /** In word 1 of the bitmaps, so the selector bit is not bit 0. */
    private static final int PORT = 70;
    private final MachineMemory memory = StressMemory.MEMORY;
    private final long base = StressMemory.page();
    private final EventDispatcher kernel;
    private int ran;

    public TwoLevelUnmaskStress() {
        kernel = new EventDispatcher(null, null, memory, StressMemory.IDENTITY, base, 4);
        kernel.bind(PORT, (cpu, port) -> ran++);
        TwoLevelEvents.mask(memory, base, PORT);
    }

    @Actor
    public void send(III_Result r) {
        r.r1 = TwoLevelEvents.setPending(memory, base, PORT);
    }

    @Actor
    public void unmask(III_Result r) {
        r.r2 = TwoLevelEvents.unmask(memory, base, PORT);
    }

    @Arbiter
    public void upcall(III_Result r) {
        if (r.r1 == TwoLevelEvents.KICK || r.r2 == TwoLevelEvents.KICK) {
            kernel.onVirq(null);
        }
        r.r3 = ran;
    }
}
