package org.hvbench.core.iommu;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * DMA without an IOMMU: the bus address is the machine address. Only the end of memory stops a
 * device (as a master abort would); a driver may point the device anywhere else.
 */
public final class IdentityDma implements DmaTranslation {
    private final MachineMemory memory;

    public IdentityDma(MachineMemory memory) {
        this.memory = memory;
    }

    @Override
    public long translate(int deviceId, long dmaAddress, int access) {
        return memory.contains(dmaAddress, 1) ? dmaAddress : -Errno.EFAULT;
    }
}
