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
import org.hvbench.core.iommu.DmaMapper;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.PageTable;

/**
 * {@code native}: an operating system on bare hardware; its kernel owns the device (Karger and
 * Safford, figure 4). One I/O: SYSCALL, DEVICE_START, SYSRET, DEVICE_IRQ, UPCALL.
 */
final class NativePlacement extends BasePlacement {
    NativePlacement(MachineConfig config, int depth) {
        super(Placement.NATIVE, new Machine(config));
        NativeMemory os = new NativeMemory(machine);
        if (config.iommuTranslates()) {
            // The kernel maps each transfer's pages in the device's own I/O page table (dma_map_page).
            PageTable io = new PageTable(machine.frames(), config.pageTableLevels(), NativeMemory.OWNER);
            int tag = machine.newAsid();
            machine.iommu().attachTable(Machine.BLOCK_DEVICE_ID, io, tag);
            os.useIommu(new DmaMapper(machine.iommu(), io, tag));
        }
        Context app = new Context("app", NativeMemory.OWNER, PrivilegeLevel.USER, os.space());
        Context kernelContext = new Context("kernel", NativeMemory.OWNER, PrivilegeLevel.KERNEL, os.space());
        Context device = Context.device("device", FrameAllocator.OWNER_IO);
        cpu.start(kernelContext);
        Kernel kernel = new Kernel(os, kernelContext, app, depth);
        cpu.interrupts().register(BLOCK_VECTOR, (c, vector) -> kernel.onDeviceInterrupt(c, device));
        machine.device().connectInterrupt(IrqLine.of(cpu.interrupts(), BLOCK_VECTOR));
        kernel.attachDriver(new DeviceDriver(cpu, os, new NativeDevicePort(machine.device(), device), kernel,
            config.queueEntries()));
        booted(new App(cpu, kernel, os));
    }
}
