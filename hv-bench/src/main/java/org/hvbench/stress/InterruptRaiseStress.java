package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.cpu.InterruptController;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A CPU's interrupt controller between a device's thread and the CPU's: the device writes a
 * completion (a plain store, as completion entries are) and raises vector 5, twice; the CPU takes
 * what is pending once, and the handler reads the completion count. The arbiter is the CPU's next
 * turn. The vector runs once for each raise that found it clear (a raise that finds it pending
 * coalesces), and the handler sees every completion written before the raise it runs for.
 * r1, r2: what the raises returned (1 newly pending, 0 coalesced); r3: the completions the CPU's
 * handler saw (-1: nothing ran); r4: runs of the handler, the next turn's included.
 */
@JCStressTest
@Description("Raise against deliver: no raised vector lost, none run twice, the raiser's writes seen by the handler.")
@Outcome(id = "1, 0, -1, 1", expect = ACCEPTABLE, desc = "the CPU looked before the raises; its next turn ran the vector once for both")
@Outcome(id = "1, 0, 2, 1", expect = ACCEPTABLE, desc = "the CPU took the vector after both raises (the second coalesced)")
@Outcome(id = {"1, 1, 1, 2", "1, 1, 2, 2"}, expect = ACCEPTABLE_INTERESTING,
    desc = "the CPU took the vector between the raises; the second raised it again")
@Outcome(expect = FORBIDDEN, desc = "a raise lost or run twice, or the handler missed a completion written before its raise")
@State
public class InterruptRaiseStress {
    private static final int VECTOR = 5;
    private final InterruptController controller = new InterruptController();
    private int completions;
    private int seen;
    private int runs;

    public InterruptRaiseStress() {
        controller.register(VECTOR, (cpu, vector) -> {
            seen = completions;
            runs++;
        });
    }

    @Actor
    public void device(IIII_Result r) {
        completions = 1;
        r.r1 = controller.raise(VECTOR) ? 1 : 0;
        completions = 2;
        r.r2 = controller.raise(VECTOR) ? 1 : 0;
    }

    @Actor
    public void cpu(IIII_Result r) {
        r.r3 = controller.deliver(null) > 0 ? seen : -1;
    }

    @Arbiter
    public void nextTurn(IIII_Result r) {
        controller.deliver(null);
        r.r4 = runs;
    }
}
