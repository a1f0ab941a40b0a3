package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.hvbench.core.iommu.InvalidationMode;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * A dynamic launch's protection of its loader ({@link Iommu#secure}) on the launching CPU's thread
 * while a device's thread does DMA (identity-mapped, no translation to invalidate). The CPU secures
 * the frame, then tells the world the launch has begun (a release store, as the hypercall's return
 * does); a device that has seen the launch begin must be refused the frame, whatever it saw before.
 * r1: the device saw the launch begun (1) or not (0); r2: its DMA reached the frame (1) or faulted (0).
 */
@JCStressTest
@Description("Once a device sees the launch begun, the loader's frame is refused to it.")
@Outcome(id = {"0, 1", "0, 0"}, expect = ACCEPTABLE, desc = "the DMA came before the launch was seen: either answer")
@Outcome(id = "1, 0", expect = ACCEPTABLE_INTERESTING, desc = "the launch was seen and the DMA refused")
@Outcome(id = "1, 1", expect = FORBIDDEN, desc = "the launch was seen, yet the DMA reached the loader")
@State
public class LaunchSecureStress {
    private static final int DEVICE = 1;
    private static final VarHandle BEGUN;

    static {
        try {
            BEGUN = MethodHandles.lookup().findVarHandle(LaunchSecureStress.class, "begun", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Iommu iommu = new Iommu(StressMemory.MEMORY, StressMemory.PROFILE, new Tlb(1, 1, true), InvalidationMode.STRICT, 1, 2);
    private final long frame = 3;
    @SuppressWarnings("unused") // through BEGUN
    private int begun;

    public LaunchSecureStress() {
        iommu.attachIdentity(DEVICE);
    }

    @Actor
    public void launchingCpu() {
        iommu.secure(frame);
        BEGUN.setRelease(this, 1);
    }

    @Actor
    public void device(II_Result r) {
        r.r1 = (int) BEGUN.getAcquire(this);
        r.r2 = iommu.translate(DEVICE, frame << MachineMemory.PAGE_SHIFT, Translation.WRITE) >= 0 ? 1 : 0;
    }
}
