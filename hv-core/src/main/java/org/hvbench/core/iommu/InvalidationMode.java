package org.hvbench.core.iommu;

import java.util.Locale;

/**
 * When an unmapped I/O page leaves the IOTLB (Linux's {@code iommu.strict}).
 */
public enum InvalidationMode {
    /** Every unmap invalidates before it returns: no DMA reaches the page afterwards. */
    STRICT("strict"),
    /**
     * Unmaps queue up and are invalidated in batches (by count, or on demand): cheaper, but a device
     * can still reach an unmapped page until the batch is flushed. The IOMMU counts those DMAs.
     */
    DEFERRED("deferred");

    private final String id;

    InvalidationMode(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** @throws IllegalArgumentException naming the setting {@code iommuInvalidation} */
    public static InvalidationMode parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (InvalidationMode m : values()) {
            if (m.id.equals(n)) {
                return m;
            }
        }
        throw new IllegalArgumentException("iommuInvalidation: '" + name + "' is unknown; use strict or deferred");
    }
}
