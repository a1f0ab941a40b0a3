package org.hvbench.core.guest;

import org.hvbench.core.cpu.Cpu;

/** How a kernel reaches a device's registers: directly (native), or by trapping to a hypervisor. */
public interface DevicePort {
    /** Writes a device register; the doorbell register starts I/O. 0 or a negative errno. */
    int write(Cpu cpu, int register, long value);
}
