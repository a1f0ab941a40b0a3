package org.hvbench.core.evtchn;

import org.hvbench.core.mem.MachineMemory;

/**
 * Where a domain's FIFO event words live (after Xen's FIFO ABI, one vCPU): an event array of one
 * 32-bit word per port and a control block, both in frames the hypervisor and the domain's kernel
 * both write. The two-level layout is {@link SharedInfo}; a domain uses one or the other.
 *
 * <pre>
 * Event word, one per port (array base + 4 x port):
 * | bit    | name    | set by                     | meaning                                      |
 * |--------|---------|----------------------------|----------------------------------------------|
 * | 31     | PENDING | hypervisor                 | the port has an event the kernel has not run |
 * | 30     | MASKED  | kernel                     | a pending event waits; it is not queued      |
 * | 29     | LINKED  | hypervisor (kernel clears) | the port is on a queue, or about to be       |
 * | 28     | BUSY    | hypervisor                 | claimed for a queue, not yet on it           |
 * | 0..16  | LINK    | hypervisor (kernel clears) | next port on the same queue, 0 at the end    |
 *
 * Control block:
 * | offset | size    | field                                                         |
 * |--------|---------|---------------------------------------------------------------|
 * | 0      | 4       | READY: bit q set when queue q got a new head                  |
 * | 4      | 4       | reserved                                                      |
 * | 8      | 4 x 16  | HEAD[q]: first port of the chain the hypervisor last started  |
 * </pre>
 *
 * Queue 0 has the highest priority. The tail of each queue is private to the hypervisor; the guest
 * follows LINK from HEAD. Every change of a word is a compare-and-set (full fence) in a loop of at
 * most {@link Atomics#TRIES}: the words are guest-writable, so a guest that rewrites them can make
 * an operation give up, which hurts only that guest.
 */
public final class FifoLayout {
    public static final int PENDING = 1 << 31;
    public static final int MASKED = 1 << 30;
    public static final int LINKED = 1 << 29;
    public static final int BUSY = 1 << 28;
    public static final int LINK_MASK = (1 << 17) - 1;
    /** Ports a LINK field can name. */
    public static final int MAX_PORTS = LINK_MASK + 1;

    public static final int PRIORITIES = 16;
    /** The priority of a port nobody has set one for (Xen's default too). */
    public static final int DEFAULT_PRIORITY = 7;

    public static final int READY = 0;
    public static final int HEAD = 8;
    public static final int CONTROL_BYTES = HEAD + 4 * PRIORITIES;
    /** One frame of event words: the ports of a domain in FIFO mode. */
    public static final int PORTS_PER_PAGE = MachineMemory.PAGE_SIZE / 4;

    private FifoLayout() {
    }

    public static long word(long arrayBase, int port) {
        return arrayBase + 4L * port;
    }

    public static long head(long controlBase, int priority) {
        return controlBase + HEAD + 4L * priority;
    }

    /** Atomic OR of an int; returns the word before, or {@code bits} when it had to give up. */
    static int getAndOrInt(MachineMemory memory, long ma, int bits) {
        for (int i = 0; i < Atomics.TRIES; i++) {
            int old = memory.getIntVolatile(ma);
            if ((old & bits) == bits || memory.compareAndSetInt(ma, old, old | bits)) {
                return old;
            }
        }
        return bits;
    }
}
