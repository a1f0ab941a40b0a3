package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Sleeper;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.QueueProducer;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * The block device's doorbell against the device's thread, as the threaded executor runs it: one
 * duty cycle ({@link BlockDevice#doWork}), then the sleeper's check of {@link BlockDevice#hasWork}
 * before it would sleep. The driver writes a command, publishes it and rings, twice; the doorbell's
 * hook wakes the sleeper. Either the pass serves both commands, or the check finds a doorbell, or a
 * ring finds the device asleep and unparks it. The arbiter is the device's next pass, run only then.
 * The second ring may come while the pass serves the first command: it must not be lost with the
 * first doorbell. r1: a ring unparked the device (1) or none did (0); r2: commands the pass served;
 * r3: the check found work (1: the device stays awake); r4: commands served in all.
 */
@JCStressTest
@Description("No lost doorbell: the device serves the commands, stays awake for them, or is woken.")
@Outcome(id = {"0, 0, 1, 2", "1, 0, 0, 2", "1, 0, 1, 2"}, expect = ACCEPTABLE,
    desc = "the pass came first; the check found a doorbell or a ring unparked the device")
@Outcome(id = {"0, 1, 1, 2", "1, 1, 0, 2", "1, 1, 1, 2"}, expect = ACCEPTABLE,
    desc = "the pass served the first; the check found the second doorbell or its ring unparked the device")
@Outcome(id = {"0, 2, 0, 2", "1, 2, 0, 2"}, expect = ACCEPTABLE, desc = "the pass served both (a ring may unpark needlessly)")
@Outcome(id = {"0, 2, 1, 2", "1, 2, 1, 2"}, expect = ACCEPTABLE_INTERESTING,
    desc = "the pass took the first doorbell and found both commands; the second keeps the device up for an empty pass")
@Outcome(expect = FORBIDDEN, desc = "lost doorbell (a command waits, the device asleep, nobody woke it), or a command served twice")
@State
public class DoorbellWakeupStress {
    private static final long SQ_BUS = 0;
    private static final long CQ_BUS = MachineMemory.PAGE_SIZE;
    private static final int HALF = MachineMemory.PAGE_SIZE / 2;
    private final MachineMemory memory = StressMemory.MEMORY;
    private final long page = StressMemory.page();
    private final BlockDevice device;
    private final QueueProducer submissions;
    private final Sleeper sleeper;
    private boolean woke;

    public DoorbellWakeupStress() {
        device = new BlockDevice("block0", 1, memory, StressMemory.DISK, (id, bus, access) -> window(bus), StressMemory.PROFILE);
        device.connectInterrupt(() -> true);
        device.mmioWrite(BlockDevice.REG_SQ_BASE, SQ_BUS);
        device.mmioWrite(BlockDevice.REG_CQ_BASE, CQ_BUS);
        device.mmioWrite(BlockDevice.REG_ENTRIES, 2);
        if (device.mmioWrite(BlockDevice.REG_CONTROL, 1) != 0) {
            throw new IllegalStateException("the device refused its queues");
        }
        submissions = new QueueProducer(memory, (bus, access) -> window(bus), SQ_BUS, BlockCommand.BYTES, 2);
        // The threaded executor's wiring (the doorbell's hook is the sleeper's wake), with the result kept.
        sleeper = new Sleeper(device::hasWork);
        device.setWakeup(() -> woke |= sleeper.wake());
    }

    /**
     * The device's bus: both queues must start on a page, so bus page 0 (the submission queue) is the
     * first half of this state's page and bus page 1 (the completion queue) the second: one page a state.
     */
    private long window(long bus) {
        long offset = bus & MachineMemory.PAGE_MASK;
        if (bus < 0 || bus >= 2L * MachineMemory.PAGE_SIZE || offset >= HALF) {
            return -Errno.EFAULT;
        }
        return page + (bus < MachineMemory.PAGE_SIZE ? 0 : HALF) + offset;
    }

    @Actor
    public void driver(IIII_Result r) {
        for (int tag = 0; tag < 2; tag++) {
            long slot = submissions.slot(0);
            memory.putByte(slot + BlockCommand.OPCODE, (byte) BlockCommand.OP_FLUSH);
            memory.putInt(slot + BlockCommand.TAG, tag);
            submissions.publish(1);
            device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
        }
        r.r1 = woke ? 1 : 0;
    }

    @Actor
    public void deviceThread(IIII_Result r) {
        r.r2 = device.doWork();
        r.r3 = sleeper.prepareToSleep() ? 1 : 0;
    }

    @Arbiter
    public void nextPass(IIII_Result r) {
        if (r.r1 == 1 || r.r3 == 1) {
            device.doWork();
        }
        r.r4 = (int) device.commands();
    }
}
