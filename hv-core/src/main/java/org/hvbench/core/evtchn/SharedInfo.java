package org.hvbench.core.evtchn;

/**
 * Where a domain's two-level event bitmaps live: its shared-info page, which the hypervisor and the
 * domain's kernel both write (after Xen's {@code shared_info} and {@code vcpu_info}, one vCPU).
 *
 * <pre>
 * | offset | size    | field                                                           |
 * |--------|---------|-----------------------------------------------------------------|
 * | 0      | 4       | upcall_pending: 1 when the vCPU has events to look at           |
 * | 8      | 8       | pending_sel: bit i set when word i of pending may have bits     |
 * | 64     | 8 x 64  | pending: one bit per port (4096 ports)                          |
 * | 576    | 8 x 64  | mask: a masked port stays pending and raises no upcall          |
 * </pre>
 *
 * Every change of these words is an atomic compare-and-set (full fence). The order of a send is
 * pending bit, then selector, then upcall_pending, and the vCPU is kicked only when upcall_pending
 * was clear; the kernel clears upcall_pending before it scans the selector, so an event sent during
 * a scan raises a new upcall instead of being lost.
 */
public final class SharedInfo {
    public static final int UPCALL_PENDING = 0;
    public static final int PENDING_SEL = 8;
    public static final int PENDING = 64;
    public static final int MASK = 576;
    public static final int WORDS = 64;
    public static final int PORTS = WORDS * 64;

    private SharedInfo() {
    }

    static long pendingWord(long base, int port) {
        return base + PENDING + 8L * (port >>> 6);
    }

    static long maskWord(long base, int port) {
        return base + MASK + 8L * (port >>> 6);
    }

    static long bit(int port) {
        return 1L << (port & 63);
    }
}
