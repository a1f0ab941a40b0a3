package org.hvbench.core.hv;

import org.hvbench.core.cpu.Cpu;

/**
 * The code behind one hypercall number, registered with {@link Hypervisor#registerHypercall} by the
 * subsystem that owns it (grant tables, event channels, the block driver). It runs in the
 * hypervisor's context on the caller's CPU and must answer any arguments with a result or a negative
 * errno, never an exception.
 */
@FunctionalInterface
public interface HypercallHandler {
    long call(Cpu cpu, Domain caller, long a0, long a1, long a2, long a3);
}
