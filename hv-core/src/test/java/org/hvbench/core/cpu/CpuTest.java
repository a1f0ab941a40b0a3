package org.hvbench.core.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CpuTest {
    private final MachineMemory memory = new MachineMemory(8L << 20);
    private final FrameAllocator frames = new FrameAllocator(memory);

    @AfterEach
    void free() {
        memory.close();
    }

    private AddressSpace space(String name, int asid) {
        PageTable t = new PageTable(frames, 4, 1);
        for (int i = 0; i < 8; i++) {
            t.map((long) i << 12, frames.allocate(1) << 12, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
        }
        return new AddressSpace(name, t, asid);
    }

    private Cpu cpu(boolean tagged, String profile) {
        return new Cpu(0, "cpu0", memory, new Tlb(16, 4, tagged), CostProfile.load(profile), new CrossingTrace(16));
    }

    @Test
    void aCrossingIntoAnotherSpaceFlushesAnUntaggedTlbSoTheNextAccessWalks() {
        AddressSpace a = space("a", 1);
        AddressSpace b = space("b", 2);
        Cpu cpu = cpu(false, "none");
        Context ka = new Context("a-kernel", 1, PrivilegeLevel.KERNEL, a);
        Context kb = new Context("b-kernel", 2, PrivilegeLevel.KERNEL, b);
        cpu.start(ka);
        cpu.translate(0x1000, Translation.READ);
        cpu.translate(0x1000, Translation.READ);
        assertEquals(1, cpu.walks(), "second access hits");
        cpu.switchTo(Crossing.HYPERCALL, kb, "test");
        cpu.switchTo(Crossing.VMENTRY, ka, "test");
        cpu.translate(0x1000, Translation.READ);
        assertEquals(2, cpu.walks(), "the switch flushed the entry: walk again");
        assertEquals(4, cpu.walkLevels() / cpu.walks(), "a 4-level walk reads 4 entries");
    }

    @Test
    void aTaggedTlbKeepsTheEntryAcrossTheRoundTrip() {
        AddressSpace a = space("a", 1);
        AddressSpace b = space("b", 2);
        Cpu cpu = cpu(true, "none");
        Context ka = new Context("a-kernel", 1, PrivilegeLevel.KERNEL, a);
        Context kb = new Context("b-kernel", 2, PrivilegeLevel.KERNEL, b);
        cpu.start(ka);
        cpu.translate(0x1000, Translation.READ);
        cpu.switchTo(Crossing.HYPERCALL, kb, "test");
        cpu.switchTo(Crossing.VMENTRY, ka, "test");
        cpu.translate(0x1000, Translation.READ);
        assertEquals(1, cpu.walks());
    }

    @Test
    void registersOfEachContextSurviveTheOthersRunning() {
        AddressSpace a = space("a", 1);
        Cpu cpu = cpu(false, "none");
        Context app = new Context("app", 1, PrivilegeLevel.USER, a);
        Context kernel = new Context("kernel", 1, PrivilegeLevel.KERNEL, a);
        app.saveArea().putLong(0, 0xAAAA);
        kernel.saveArea().putLong(0, 0xBBBB);
        cpu.start(app);
        cpu.switchTo(Crossing.SYSCALL, kernel, "in");
        // The kernel's registers are live now and the app's were saved.
        cpu.switchTo(Crossing.SYSRET, app, "out");
        assertEquals(0xBBBB, kernel.saveArea().getLong(0), "saved on the way out of the kernel");
        cpu.switchTo(Crossing.SYSCALL, kernel, "in again");
        assertEquals(0xAAAA, app.saveArea().getLong(0), "the app's live registers were saved, not lost");
    }

    @Test
    void unmappedOrForbiddenAccessesFault() {
        AddressSpace a = space("a", 1);
        a.table().map(0x100000, 0x200000, PageTable.SHIFT_4K, Translation.READ);
        Cpu cpu = cpu(false, "none");
        cpu.start(new Context("k", 1, PrivilegeLevel.KERNEL, a));
        assertEquals(-Errno.EFAULT, cpu.translate(0x900000, Translation.READ));
        assertEquals(-Errno.EFAULT, cpu.translate(0x100000, Translation.WRITE), "read-only page");
        assertEquals(0x200010, cpu.translate(0x100010, Translation.READ));
        assertEquals(2, cpu.faults());
    }

    @Test
    void theVirtualClockChargesTheProfile() {
        AddressSpace a = space("a", 1);
        Cpu cpu = cpu(false, "current-x86");
        Context app = new Context("app", 1, PrivilegeLevel.USER, a);
        Context kernel = new Context("kernel", 1, PrivilegeLevel.KERNEL, a);
        cpu.start(app);
        cpu.switchTo(Crossing.SYSCALL, kernel, "in");
        CostProfile p = cpu.profile();
        assertEquals(p.crossingPicos(Crossing.SYSCALL), cpu.clock().picos(), "same space: no switch, no flush");
        cpu.translate(0x1000, Translation.READ);
        assertEquals(p.crossingPicos(Crossing.SYSCALL) + p.tlbMissPicos() + 4 * p.walkLevelPicos(), cpu.clock().picos());
        Cpu free = cpu(false, "none");
        free.start(app);
        free.switchTo(Crossing.SYSCALL, kernel, "in");
        assertEquals(0, free.clock().picos());
    }

    @Test
    void interruptsCoalesceAndWakeOnce() {
        InterruptController ic = new InterruptController();
        int[] wakes = {0};
        int[] handled = {0};
        ic.setWakeup(() -> wakes[0]++);
        ic.register(32, (c, v) -> handled[0]++);
        assertTrue(ic.raise(32));
        assertTrue(!ic.raise(32), "already pending: coalesced");
        ic.raise(40);
        assertEquals(1, wakes[0], "woken when the first vector became pending, not again");
        assertTrue(ic.hasPending());
        assertEquals(1, ic.deliver(null), "vector 40 has no handler");
        assertEquals(1, handled[0]);
        assertEquals(1, ic.spurious());
        assertTrue(!ic.hasPending());
    }
}
