package org.hvbench.core.ring;

import org.hvbench.core.mem.MachineMemory;

/**
 * Layout of the shared ring of Xen's split drivers ({@code xen/include/public/io/ring.h}): one page
 * that a front end and a back end in different domains both map. Requests and responses share the
 * slots; each side keeps its private indices ({@link FrontRing}, {@link BackRing}).
 *
 * <pre>
 * | offset | size          | field                                                            |
 * |--------|---------------|------------------------------------------------------------------|
 * | 0      | 4             | req_prod: requests published; front end, release                 |
 * | 4      | 4             | req_event: notify the back end when req_prod passes this; back end |
 * | 8      | 4             | rsp_prod: responses published; back end, release                 |
 * | 12     | 4             | rsp_event: notify the front end when rsp_prod passes this; front end |
 * | 64     | size * slot   | slot i at 64 + (index &amp; (size-1)) * slot                          |
 * </pre>
 *
 * Indices are free-running 32-bit counters that wrap; the number of slots is the largest power of
 * two that fits the page (32 for the block protocol's 112-byte slots). A producer notifies only if
 * the peer's event index lies in {@code (old, new]} of what it just published, in modular
 * arithmetic: this is the notification suppression that lets one interrupt serve a batch.
 */
public final class SharedRing {
    public static final int REQ_PROD = 0;
    public static final int REQ_EVENT = 4;
    public static final int RSP_PROD = 8;
    public static final int RSP_EVENT = 12;
    public static final int SLOTS = 64;

    private SharedRing() {
    }

    /** Slots of {@code slotBytes} in one page, rounded down to a power of two. */
    public static int size(int slotBytes) {
        if (slotBytes < 1 || slotBytes > MachineMemory.PAGE_SIZE - SLOTS) {
            throw new IllegalArgumentException("ring slot of " + slotBytes + " bytes does not fit a page");
        }
        return Integer.highestOneBit((MachineMemory.PAGE_SIZE - SLOTS) / slotBytes);
    }

    static long slotOffset(int slotBytes, int size, int index) {
        return SLOTS + (long) (index & (size - 1)) * slotBytes;
    }

    /** True when {@code event} lies in {@code (old, now]}: the peer asked to hear of this batch. */
    static boolean crossed(int old, int now, int event) {
        return Integer.compareUnsigned(now - event, now - old) < 0;
    }
}
