package org.hvbench.core.guest;

import org.hvbench.core.cpu.Cpu;

/** Where a block driver reports completions: its kernel. */
public interface BlockCompletions {
    /** One block request ended; {@code tag} is what the kernel gave {@link BlockDriver#queue}. */
    void onBlockComplete(Cpu cpu, int tag, int status);

    /** The driver's interrupt handler has passed on everything it found. */
    void onInterruptDone(Cpu cpu);
}
