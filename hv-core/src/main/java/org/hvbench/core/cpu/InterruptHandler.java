package org.hvbench.core.cpu;

/** Code an interrupt vector runs: a kernel's or the hypervisor's interrupt service routine. */
@FunctionalInterface
public interface InterruptHandler {
    /** Runs on {@code cpu}; the handler performs its own entry crossing. */
    void onInterrupt(Cpu cpu, int vector);
}
