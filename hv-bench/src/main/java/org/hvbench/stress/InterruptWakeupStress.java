package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.mem.Tlb;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A CPU's thread taking its interrupts and going to sleep, as the threaded executor runs it (one
 * {@link Cpu#deliverInterrupts} turn, then its sleeper's check of {@link Cpu#hasWork}), while a
 * device's thread raises vector 5. The controller runs its wake-up hook (the sleeper's wake) only
 * when the pending word goes from empty to non-empty, and vector 40 is already pending: the raise
 * either coalesces with it, and the CPU's turn then takes both, or finds the word empty and wakes
 * the sleeper, which the CPU's check or the wake-up must catch. The arbiter is the CPU's next turn,
 * run only if the CPU stayed awake or was unparked.
 * r1: the hook did not run (0), found the CPU awake (1) or unparked it (2); r2: vectors the CPU's
 * turn ran; r3: the check found work (1: the CPU stays awake); r4: runs of vector 5 in all.
 */
@JCStressTest
@Description("No lost interrupt: a raise that needs no wake-up is taken, one that needs it wakes a sleeping CPU.")
@Outcome(id = "0, 2, 0, 1", expect = ACCEPTABLE, desc = "the raise coalesced with vector 40; the CPU's turn took both")
@Outcome(id = "1, 1, 1, 1", expect = ACCEPTABLE, desc = "the CPU took 40 first; the hook found it awake, its check found 5")
@Outcome(id = "2, 1, 0, 1", expect = ACCEPTABLE, desc = "the CPU took 40 first and announced sleep; the hook unparked it")
@Outcome(id = "2, 1, 1, 1", expect = ACCEPTABLE_INTERESTING, desc = "each saw the other: the hook unparked a CPU that also found 5")
@Outcome(expect = FORBIDDEN, desc = "lost interrupt (pending, the CPU asleep, nobody woke it), or vector 5 run other than once")
@State
public class InterruptWakeupStress {
    private final Cpu cpu = new Cpu(0, "cpu0", StressMemory.MEMORY, new Tlb(1, 1, true), StressMemory.PROFILE, new CrossingTrace(1));
    private int woke;
    private int runs;

    public InterruptWakeupStress() {
        cpu.interrupts().register(40, (c, vector) -> { });
        cpu.interrupts().register(5, (c, vector) -> runs++);
        cpu.interrupts().raise(40);
        // The threaded executor's wiring (its hook is the sleeper's wake), with the result kept.
        cpu.interrupts().setWakeup(() -> woke = cpu.sleeper().wake() ? 2 : 1);
    }

    @Actor
    public void device(IIII_Result r) {
        cpu.interrupts().raise(5);
        r.r1 = woke;
    }

    @Actor
    public void cpu(IIII_Result r) {
        r.r2 = cpu.deliverInterrupts();
        r.r3 = cpu.sleeper().prepareToSleep() ? 1 : 0;
    }

    @Arbiter
    public void nextTurn(IIII_Result r) {
        if (r.r1 == 2 || r.r3 == 1) {
            cpu.deliverInterrupts();
        }
        r.r4 = runs;
    }
}
