package org.hvbench.stress;

import java.util.concurrent.atomic.AtomicLong;

import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translator;

/**
 * One machine memory for all the state objects of a jcstress run: jcstress makes thousands of
 * states at a time, far too many for a region each. Each state takes the next page, zeroed; pages
 * are reused round-robin, and there are more of them than states alive at once.
 */
final class StressMemory {
    // jcstress trims a fork's heap (and so its direct memory) to 256 MiB and keeps up to 10,240 states alive.
    static final MachineMemory MEMORY = new MachineMemory(64L << 20);
    static final Translator IDENTITY = (address, access) -> address;
    private static final AtomicLong NEXT = new AtomicLong(1);

    private StressMemory() {
    }

    /** A zeroed page for one state object. */
    static long page() {
        long page = (NEXT.getAndIncrement() % (MEMORY.frames() - 1) + 1) << MachineMemory.PAGE_SHIFT;
        MEMORY.setMemory(page, MachineMemory.PAGE_SIZE, (byte) 0);
        return page;
    }
}
