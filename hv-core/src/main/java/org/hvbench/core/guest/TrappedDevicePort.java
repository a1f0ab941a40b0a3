package org.hvbench.core.guest;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VmExit;

/**
 * A device's registers as a fully virtualized guest kernel sees them: every write is a privileged
 * instruction that traps to the hypervisor's device model (a VMEXIT).
 */
public final class TrappedDevicePort implements DevicePort {
    private final Hypervisor hypervisor;

    public TrappedDevicePort(Hypervisor hypervisor) {
        this.hypervisor = hypervisor;
    }

    @Override
    public int write(Cpu cpu, int register, long value) {
        return (int) hypervisor.vmexit(cpu, VmExit.MMIO_WRITE, register, value);
    }
}
