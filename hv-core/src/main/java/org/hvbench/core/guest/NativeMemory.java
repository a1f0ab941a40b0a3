package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.iommu.DmaMapper;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/**
 * A native kernel's memory: it owns machine frames and its own page table (virtual to machine),
 * allocated as it goes from 1 MiB up. Devices are told machine addresses, found by translating.
 */
public final class NativeMemory extends OsMemory {
    /** Owner id of the native operating system's frames (there is no hypervisor to hand out domain ids). */
    public static final int OWNER = 0;
    private static final long FIRST_VA = 1L << 20;

    private final FrameAllocator frames;
    private final AddressSpace space;
    private long nextVa = FIRST_VA;
    private DmaMapper dma;

    public NativeMemory(Machine machine) {
        super(machine.memory());
        this.frames = machine.frames();
        PageTable table = new PageTable(frames, machine.config().pageTableLevels(), OWNER);
        this.space = new AddressSpace("native", table, machine.newAsid());
    }

    @Override
    public AddressSpace space() {
        return space;
    }

    @Override
    public long allocate(int pages) {
        long va = nextVa;
        for (int i = 0; i < pages; i++) {
            long mfn = frames.allocate(OWNER);
            map(va + ((long) i << MachineMemory.PAGE_SHIFT), mfn);
        }
        nextVa += (long) pages << MachineMemory.PAGE_SHIFT;
        return va;
    }

    @Override
    public long allocateContiguous(int pages) {
        long first = frames.allocateContiguous(pages, 1, OWNER);
        if (first < 0) {
            throw outOfMemory(pages);
        }
        long va = nextVa;
        for (int i = 0; i < pages; i++) {
            map(va + ((long) i << MachineMemory.PAGE_SHIFT), first + i);
        }
        nextVa += (long) pages << MachineMemory.PAGE_SHIFT;
        return va;
    }

    private void map(long va, long mfn) {
        if (mfn < 0) {
            throw outOfMemory(1);
        }
        int r = space.table().map(va, mfn << MachineMemory.PAGE_SHIFT, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
        if (r < 0) {
            throw new IllegalStateException("native kernel cannot map 0x" + Long.toHexString(va) + ": " + Errno.name(r));
        }
    }

    private IllegalStateException outOfMemory(int pages) {
        return new IllegalStateException("memory: the native kernel needs " + pages + " more frames, " + frames.freeFrames()
            + " are free; give the machine more memory");
    }

    /** From now on devices are told I/O addresses mapped through {@code mapper} (the IOMMU is on). */
    public void useIommu(DmaMapper mapper) {
        this.dma = mapper;
    }

    @Override
    public long busAddress(Cpu cpu, long va, int access) {
        long ma = cpu.translate(space, va, access);
        if (ma < 0 || dma == null) {
            return ma;
        }
        // A device that reads memory needs READ in the I/O page table, one that writes needs WRITE.
        return dma.map(ma, access);
    }

    @Override
    public void releaseBusAddress(long bus) {
        if (dma != null) {
            dma.unmap(bus);
        }
    }
}
