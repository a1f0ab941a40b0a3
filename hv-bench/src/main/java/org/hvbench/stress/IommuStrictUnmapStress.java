package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.iommu.InvalidationMode;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A strict IOMMU unmap on a CPU's thread while the device's thread translates (threaded executor):
 * the CPU clears the I/O page-table entry, posts the invalidation to the IOMMU's request ring and
 * waits until the device's thread has applied it, which it does at its next translation. The page
 * is in the IOTLB at the start, so a translation that has not applied the request still reaches it.
 * The device actor translates twice; the CPU's wait is cut after its first check (the IOMMU's next
 * kick of the device's thread ends it), since nothing would apply the request once the device actor
 * is done. The arbiter is the device's next translation.
 * r1, r2: the device's translations reached the old page (1) or faulted (0); r3: the CPU's wait
 * returned at its first check (1) or was still waiting (0); r4: 0, +1 if the next translation still
 * reached the page, +10 if the invalidation was not applied exactly once, +100 if requests are left.
 */
@JCStressTest
@Description("Strict unmap from another thread: once the CPU's wait returns, the device can no longer reach the page.")
@Outcome(id = "1, 1, 0, 0", expect = ACCEPTABLE, desc = "both translations came before the request; the CPU still waits")
@Outcome(id = {"1, 0, 0, 0", "0, 0, 0, 0"}, expect = ACCEPTABLE,
    desc = "a translation applied the invalidation and faulted; the CPU's check came before that")
@Outcome(id = {"1, 0, 1, 0", "0, 0, 1, 0"}, expect = ACCEPTABLE_INTERESTING,
    desc = "a translation applied the invalidation and faulted; the CPU's wait returned")
@Outcome(expect = FORBIDDEN,
    desc = "the CPU's wait returned while the device still reached the page, the old page back after a fault, or not applied once")
@State
public class IommuStrictUnmapStress {
    private static final int DEVICE = 1;
    private static final int TAG = 1;
    /** The IOMMU's owner until the device actor takes its place: the CPU actor must post, never apply. */
    private static final Thread DEVICE_STAND_IN = new Thread("the device actor, not started yet");
    private static final StillWaiting STILL_WAITING = new StillWaiting();
    private final Iommu iommu = new Iommu(StressMemory.MEMORY, StressMemory.PROFILE, new Tlb(1, 1, true), InvalidationMode.STRICT, 1, 2);
    private final long iova = StressMemory.IoTable.mappedIova();
    private int kicks;

    public IommuStrictUnmapStress() {
        iommu.attachTable(DEVICE, StressMemory.IoTable.TABLE, TAG);
        iommu.setOwner(DEVICE_STAND_IN, this::kick);
        if (iommu.translate(DEVICE, iova, Translation.READ) < 0) {
            throw new IllegalStateException("the page is not mapped at the start");
        }
    }

    /** The IOMMU kicks the device's thread once when it posts, then once more per round of the wait. */
    private void kick() {
        if (++kicks > 1) {
            throw STILL_WAITING;
        }
    }

    @Actor
    public void deviceThread(IIII_Result r) {
        iommu.setOwner(Thread.currentThread(), this::kick);
        r.r1 = iommu.translate(DEVICE, iova, Translation.READ) >= 0 ? 1 : 0;
        r.r2 = iommu.translate(DEVICE, iova, Translation.READ) >= 0 ? 1 : 0;
    }

    @Actor
    public void cpu(IIII_Result r) {
        try {
            iommu.unmap(StressMemory.IoTable.TABLE, TAG, iova);
            r.r3 = 1;
        } catch (StillWaiting e) {
            r.r3 = 0;
        }
    }

    @Arbiter
    public void nextTranslation(IIII_Result r) {
        iommu.setOwner(Thread.currentThread(), this::kick);
        r.r4 = (iommu.translate(DEVICE, iova, Translation.READ) >= 0 ? 1 : 0)
            + (iommu.invalidations() == 1 ? 0 : 10)
            + (iommu.hasRequests() ? 100 : 0);
    }

    /** Ends the CPU actor's wait; thrown without a stack trace, as it is expected. */
    private static final class StillWaiting extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StillWaiting() {
            super("the CPU would wait on", null, false, false);
        }
    }
}
