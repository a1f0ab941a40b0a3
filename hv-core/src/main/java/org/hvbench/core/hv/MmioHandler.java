package org.hvbench.core.hv;

import org.hvbench.core.cpu.Cpu;

/**
 * What handles a domain's trapped device-register writes: the hypervisor's own device model, or a
 * forwarder to a device emulator in another domain. Runs in the hypervisor's context.
 */
@FunctionalInterface
public interface MmioHandler {
    /** @return 0, or a negative errno describing what the emulation refused (for tests; the guest sees none) */
    long mmioWrite(Cpu cpu, Domain domain, int register, long value);
}
