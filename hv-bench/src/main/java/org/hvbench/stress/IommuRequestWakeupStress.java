package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.cpu.Sleeper;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.iommu.InvalidationMode;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.Tlb;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Requests a CPU's thread posts to the IOMMU while the device's thread runs a duty cycle and decides
 * whether to sleep, as the threaded executor runs it: {@link BlockDevice#doWork} (which applies the
 * IOMMU's requests first), then the sleeper's check of {@link BlockDevice#hasWork} (of which the
 * IOMMU's {@code hasRequests} is part). The CPU posts two deferred invalidations, which do not wait
 * (a batch of one: each is applied as one invalidation), and the IOMMU kicks the device's sleeper
 * after each. Either the pass applies them, or the check finds them, or a kick finds the device
 * asleep. The arbiter is the device's next pass, run only then. The device may take a request whose
 * count the CPU has not yet published; the counts must still end equal, each request applied once.
 * r1: a kick unparked the device (1) or none did (0); r2: requests the pass applied; r3: the check
 * found work (1: the device stays awake); r4: invalidations applied in all, +10 if requests are left.
 */
@JCStressTest
@Description("No lost IOMMU request: the device applies it, stays awake for it, or is woken; each is applied once.")
@Outcome(id = {"0, 0, 1, 2", "1, 0, 0, 2", "1, 0, 1, 2"}, expect = ACCEPTABLE,
    desc = "the pass came first; the check found the requests or a kick unparked the device")
@Outcome(id = {"0, 1, 1, 2", "1, 1, 0, 2", "1, 1, 1, 2"}, expect = ACCEPTABLE,
    desc = "the pass applied the first; the check found the second or its kick unparked the device")
@Outcome(id = {"0, 2, 0, 2", "1, 2, 0, 2"}, expect = ACCEPTABLE, desc = "the pass applied both (a kick may unpark needlessly)")
@Outcome(id = {"0, 2, 1, 2", "1, 2, 1, 2"}, expect = ACCEPTABLE_INTERESTING,
    desc = "the pass applied both before the second's count was published; the device stays awake until it is")
@Outcome(expect = FORBIDDEN, desc = "lost request (left unapplied, the device asleep, nobody woke it), or a request applied twice")
@State
public class IommuRequestWakeupStress {
    private static final int TAG = 1;
    private static final long IOVA = 0x40000;
    /** The IOMMU's owner until the device actor takes its place: the CPU actor must post, never apply. */
    private static final Thread DEVICE_STAND_IN = new Thread("the device actor, not started yet");
    private final Iommu iommu = new Iommu(StressMemory.MEMORY, StressMemory.PROFILE, new Tlb(1, 1, true), InvalidationMode.DEFERRED, 1, 2);
    private final BlockDevice device = new BlockDevice("block0", 1, StressMemory.MEMORY, StressMemory.DISK, iommu, StressMemory.PROFILE);
    private final Sleeper sleeper = new Sleeper(device::hasWork);
    private boolean woke;

    public IommuRequestWakeupStress() {
        iommu.setOwner(DEVICE_STAND_IN, this::kick);
    }

    /** The threaded executor's kick (the device sleeper's wake), with the result kept. */
    private void kick() {
        woke |= sleeper.wake();
    }

    @Actor
    public void cpu(IIII_Result r) {
        iommu.invalidate(TAG, IOVA);
        iommu.invalidate(TAG, IOVA + 4096);
        r.r1 = woke ? 1 : 0;
    }

    @Actor
    public void deviceThread(IIII_Result r) {
        iommu.setOwner(Thread.currentThread(), this::kick);
        r.r2 = device.doWork();
        r.r3 = sleeper.prepareToSleep() ? 1 : 0;
    }

    @Arbiter
    public void nextPass(IIII_Result r) {
        iommu.setOwner(Thread.currentThread(), this::kick);
        if (r.r1 == 1 || r.r3 == 1) {
            device.doWork();
        }
        r.r4 = (int) iommu.invalidations() + (iommu.hasRequests() ? 10 : 0);
    }
}
