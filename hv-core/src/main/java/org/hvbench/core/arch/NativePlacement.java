package org.hvbench.core.arch;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.DeviceDriver;
import org.hvbench.core.guest.Kernel;
import org.hvbench.core.guest.NativeDevicePort;
import org.hvbench.core.guest.NativeMemory;
import org.hvbench.core.mem.FrameAllocator;

/**
 * {@code native}: an operating system on bare hardware; its kernel owns the device (Karger and
 * Safford, figure 4). One I/O: SYSCALL, DEVICE_START, SYSRET, DEVICE_IRQ, UPCALL.
 */
final class NativePlacement extends BasePlacement {
    NativePlacement(MachineConfig config, int depth) {
        super(Placement.NATIVE, new Machine(config));
        NativeMemory os = new NativeMemory(machine);
        Context app = new Context("app", NativeMemory.OWNER, PrivilegeLevel.USER, os.space());
        Context kernelContext = new Context("kernel", NativeMemory.OWNER, PrivilegeLevel.KERNEL, os.space());
        Context device = Context.device("device", FrameAllocator.OWNER_IO);
        cpu.start(kernelContext);
        Kernel kernel = new Kernel(os, kernelContext, app, depth);
        cpu.interrupts().register(BLOCK_VECTOR, (c, vector) -> kernel.onDeviceInterrupt(c, device));
        machine.device().connectInterrupt(new IrqLine(cpu.interrupts(), BLOCK_VECTOR));
        kernel.attachDriver(new DeviceDriver(cpu, os, new NativeDevicePort(machine.device(), device), kernel,
            config.queueEntries()));
        booted(new App(cpu, kernel, os));
    }
}
