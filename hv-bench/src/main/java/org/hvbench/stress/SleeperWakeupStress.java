package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.atomic.AtomicInteger;

import org.hvbench.core.cpu.Sleeper;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZ_Result;

/**
 * The threaded executor's sleep and wake-up ({@link Sleeper}) with the weakest orders its users
 * give it: the waker publishes work with a release store (as the device's doorbell does) and calls
 * {@link Sleeper#wake}; the sleeper announces sleep and checks for work with an acquire load. Either
 * the sleeper sees the work or the waker sees the sleeper: otherwise the party would park with work
 * waiting and nobody to unpark it.
 */
@JCStressTest
@Description("No lost wake-up between a party going to sleep and a party handing it work.")
@Outcome(id = "true, true", expect = ACCEPTABLE, desc = "the waker unparks a sleeper that also saw the work")
@Outcome(id = "true, false", expect = ACCEPTABLE, desc = "the waker unparks a sleeping party")
@Outcome(id = "false, true", expect = ACCEPTABLE, desc = "the party saw the work and stays awake")
@Outcome(id = "false, false", expect = FORBIDDEN, desc = "lost wake-up: the party sleeps with work waiting")
@State
public class SleeperWakeupStress {
    private final AtomicInteger work = new AtomicInteger();
    private final Sleeper sleeper = new Sleeper(() -> work.getAcquire() != 0);

    @Actor
    public void waker(ZZ_Result r) {
        work.setRelease(1);
        r.r1 = sleeper.wake();
    }

    @Actor
    public void party(ZZ_Result r) {
        r.r2 = sleeper.prepareToSleep();
    }
}
