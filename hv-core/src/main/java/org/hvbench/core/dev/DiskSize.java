package org.hvbench.core.dev;

/** The one rule for a disk's size, shared by every backing. */
final class DiskSize {
    static final long MIN_BYTES = 1L << 20;
    static final long MAX_BYTES = 1L << 30;

    private DiskSize() {
    }

    static void check(long bytes) {
        if (bytes < MIN_BYTES || bytes > MAX_BYTES || (bytes & (BlockBacking.SECTOR_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("diskBytes: " + bytes + " is not allowed; a disk holds whole 512-byte"
                + " sectors, from " + MIN_BYTES + " (1 MiB) to " + MAX_BYTES + " (1 GiB)");
        }
    }
}
