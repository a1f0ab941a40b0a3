package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.cpu.InterruptController;
import org.hvbench.core.cpu.PostedInterrupts;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Posted interrupts: a device posts two vectors (in different words of the descriptor) while the CPU
 * takes a notification and drains the descriptor. The arbiter is the CPU taking the next
 * notification, if there is one; a vector still pending after that was posted without a
 * notification and is lost. r1: vectors the racing drain ran; r2, r3: runs of vectors 5 and 200;
 * r4: vectors left pending with no notification, + 100 for a vector that was never posted.
 */
@JCStressTest
@Description("Posted interrupts: every posted vector is delivered exactly once, through a notification.")
@Outcome(id = "0, 1, 1, 0", expect = ACCEPTABLE, desc = "the CPU looked before the posts; the notification brought both")
@Outcome(id = "1, 1, 1, 0", expect = ACCEPTABLE, desc = "the drain took the first; the second notified again")
@Outcome(id = "2, 1, 1, 0", expect = ACCEPTABLE, desc = "the drain took both")
@Outcome(expect = FORBIDDEN, desc = "a vector lost, delivered twice, or left without a notification")
@State
public class PostedDrainStress {
    private static final int NOTIFICATION_VECTOR = 2;
    private final InterruptController controller = new InterruptController();
    private final PostedInterrupts posted = new PostedInterrupts(controller, NOTIFICATION_VECTOR);
    private int drained;
    private int ran5;
    private int ran200;
    private int stray;

    public PostedDrainStress() {
        controller.register(NOTIFICATION_VECTOR, (cpu, vector) -> drained += posted.drain(this::run));
    }

    private void run(int vector) {
        if (vector == 5) {
            ran5++;
        } else if (vector == 200) {
            ran200++;
        } else {
            stray++;
        }
    }

    @Actor
    public void device() {
        posted.post(5);
        posted.post(200);
    }

    @Actor
    public void cpu(IIII_Result r) {
        controller.deliver(null);
        r.r1 = drained;
    }

    @Arbiter
    public void nextNotification(IIII_Result r) {
        controller.deliver(null);
        r.r2 = ran5;
        r.r3 = ran200;
        r.r4 = posted.drain(vector -> { }) + 100 * stray;
    }
}
