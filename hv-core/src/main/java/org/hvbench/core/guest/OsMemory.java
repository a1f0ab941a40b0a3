package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * The memory an operating system manages: one address space that its kernel and its application
 * share, a page allocator over it, and the rule for what a device is told (the bus address).
 * A native kernel owns its page table and tells devices machine addresses; a guest kernel sees
 * guest-physical memory and tells devices guest-physical addresses, which its hypervisor (or an
 * IOMMU) must translate.
 */
public abstract class OsMemory {
    protected final MachineMemory memory;

    protected OsMemory(MachineMemory memory) {
        this.memory = memory;
    }

    public abstract AddressSpace space();

    /** Maps {@code pages} fresh zeroed pages at consecutive addresses; returns the first. */
    public abstract long allocate(int pages);

    /** As {@link #allocate}, but the bus addresses are contiguous too (a DMA queue). */
    public abstract long allocateContiguous(int pages);

    /**
     * The address a device must be given for {@code va}: a machine address (native, translated
     * through the CPU), an I/O address the kernel just mapped in the device's IOMMU context, or a
     * guest-physical one; a negative errno when {@code va} is not mapped. Each call must be paired
     * with {@link #releaseBusAddress} once the transfer is over.
     */
    public abstract long busAddress(Cpu cpu, long va, int access);

    /** The transfer through {@code bus} is over: an IOMMU mapping made for it may go. */
    public void releaseBusAddress(long bus) {
    }

    public MachineMemory memory() {
        return memory;
    }

    /** Writes bytes at {@code va} from outside the machine (test set-up, benchmark fill): walks, no TLB. */
    public void hostWrite(long va, byte[] src, int offset, int length) {
        int done = 0;
        while (done < length) {
            long ma = hostTranslate(va + done);
            int chunk = (int) Math.min(length - done, MachineMemory.PAGE_SIZE - ((va + done) & MachineMemory.PAGE_MASK));
            memory.putBytes(ma, src, offset + done, chunk);
            done += chunk;
        }
    }

    /** Reads bytes at {@code va} from outside the machine: walks, no TLB. */
    public byte[] hostRead(long va, int length) {
        byte[] out = new byte[length];
        int done = 0;
        while (done < length) {
            long ma = hostTranslate(va + done);
            int chunk = (int) Math.min(length - done, MachineMemory.PAGE_SIZE - ((va + done) & MachineMemory.PAGE_MASK));
            memory.getBytes(ma, out, done, chunk);
            done += chunk;
        }
        return out;
    }

    /** The machine address behind {@code va}, by a walk. */
    public long hostTranslate(long va) {
        long t = space().table().translate(va);
        if (t < 0) {
            throw new IllegalArgumentException("address 0x" + Long.toHexString(va) + " is not mapped in " + space()
                + " (" + Errno.name(t) + ")");
        }
        return Translation.machineAddress(t, va);
    }
}
