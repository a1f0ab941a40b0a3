package org.hvbench.core.mem;

/**
 * Something that turns an address of one kind into a machine address: a CPU through its TLB and
 * page tables, a device through its DMA translation (identity or IOMMU).
 */
@FunctionalInterface
public interface Translator {
    /**
     * @param access {@link Translation#READ}, {@link Translation#WRITE} or both
     * @return the machine address, or a negative errno ({@code -EFAULT} for unmapped or forbidden)
     */
    long translate(long address, int access);
}
