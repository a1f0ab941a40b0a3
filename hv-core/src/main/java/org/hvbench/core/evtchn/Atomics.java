package org.hvbench.core.evtchn;

import org.hvbench.core.mem.MachineMemory;

/**
 * Bit operations on shared-info words as compare-and-set loops (each attempt a full fence). The
 * words are writable by a guest, so the loops are bounded: a guest that rewrites its own word
 * without pause can make an operation give up (reported as if the bits were already set), which
 * hurts no one but that guest, instead of holding the hypervisor in a loop.
 */
final class Atomics {
    static final int TRIES = 64;

    private Atomics() {
    }

    /** Atomic OR; returns the word before (all of {@code bits} set when it had to give up). */
    static long getAndOr(MachineMemory memory, long ma, long bits) {
        for (int i = 0; i < TRIES; i++) {
            long old = memory.getLongVolatile(ma);
            if ((old & bits) == bits || memory.compareAndSetLong(ma, old, old | bits)) {
                return old;
            }
        }
        return bits;
    }

    /** Atomic AND NOT; returns the word before (no bit of {@code bits} set when it had to give up). */
    static long getAndClear(MachineMemory memory, long ma, long bits) {
        for (int i = 0; i < TRIES; i++) {
            long old = memory.getLongVolatile(ma);
            if ((old & bits) == 0 || memory.compareAndSetLong(ma, old, old & ~bits)) {
                return old;
            }
        }
        return 0;
    }

    /** Atomic exchange of a long; returns the word before (0 when it had to give up). */
    static long getAndSet(MachineMemory memory, long ma, long value) {
        for (int i = 0; i < TRIES; i++) {
            long old = memory.getLongVolatile(ma);
            if (memory.compareAndSetLong(ma, old, value)) {
                return old;
            }
        }
        return 0;
    }

    /** Atomic exchange of an int; returns the value before ({@code value} when it had to give up). */
    static int getAndSetInt(MachineMemory memory, long ma, int value) {
        for (int i = 0; i < TRIES; i++) {
            int old = memory.getIntVolatile(ma);
            if (memory.compareAndSetInt(ma, old, value)) {
                return old;
            }
        }
        return value;
    }
}
