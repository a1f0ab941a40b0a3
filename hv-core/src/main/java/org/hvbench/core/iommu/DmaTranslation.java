package org.hvbench.core.iommu;

/**
 * How a device's DMA addresses become machine addresses. The identity translation trusts the driver
 * (no protection, as a machine without an IOMMU); an IOMMU translates and can refuse.
 */
public interface DmaTranslation {
    /**
     * @param deviceId the requesting device (the IOMMU's context-table key)
     * @param dmaAddress the address the device was given
     * @param access READ (device reads memory) and/or WRITE (device writes memory)
     * @return the machine address, or {@code -EFAULT} when the access is refused
     */
    long translate(int deviceId, long dmaAddress, int access);

    /**
     * Applies what CPUs' threads asked of the translation hardware meanwhile (the threaded executor's
     * IOTLB invalidations); the device calls it on its own thread before it serves a doorbell.
     *
     * @return requests applied
     */
    default int serviceRequests() {
        return 0;
    }

    /** True when {@link #serviceRequests} has something to apply (acquire). */
    default boolean hasRequests() {
        return false;
    }
}
