package org.hvbench.core.hv;

import org.hvbench.core.cpu.Cpu;

/** The entry a guest kernel registers for virtual interrupts (Xen's event callback, an HVM guest's IDT). */
@FunctionalInterface
public interface VirtualInterruptHandler {
    /** Runs in the guest kernel's context, after the hypervisor's VIRQ crossing. */
    void onVirq(Cpu cpu);
}
