package org.hvbench.core.arch;

import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.DeviceDriver;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.HypercallDriver;
import org.hvbench.core.guest.Kernel;
import org.hvbench.core.guest.TrappedDevicePort;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;

/**
 * {@code hypervisor-pv} and {@code hypervisor-trap}: the driver in the hypervisor, which shares the
 * device among guests (Karger and Safford, figure 5; CP/67, z/VM, the VAX security kernel). The guest
 * reaches it by hypercall (paravirtual) or by an unmodified driver whose register writes trap. One
 * I/O: SYSCALL, HYPERCALL or VMEXIT, DEVICE_START, VMENTRY, SYSRET, DEVICE_IRQ, VIRQ, UPCALL.
 */
final class HypervisorPlacement extends BasePlacement {
    private final Hypervisor hypervisor;
    private final Domain guest;

    HypervisorPlacement(Placement placement, MachineConfig config, int depth, boolean paravirtual) {
        super(placement, new Machine(config));
        hypervisor = new Hypervisor(machine);
        hypervisor.attachBlockDevice(cpu, BLOCK_VECTOR);
        guest = hypervisor.createDomain("guest", "guest", guestBytes(depth), false);
        hypervisor.blockDriver().assignDisk(guest, 0, machine.backing().sectors());
        guest.setMmioHandler(hypervisor.blockDriver());
        DomainMemory os = new DomainMemory(guest, machine.memory());
        cpu.start(guest.kernel());
        Kernel kernel = new Kernel(os, guest.kernel(), guest.app(), depth);
        kernel.attachDriver(paravirtual
            ? new HypercallDriver(cpu, hypervisor, os, kernel)
            : new DeviceDriver(cpu, os, new TrappedDevicePort(hypervisor), kernel, config.queueEntries()));
        guest.setVirqHandler(kernel::onVirtualInterrupt);
        booted(new App(cpu, kernel, os));
    }

    /** Room for the kernel's queues and {@code depth} buffers of the largest I/O. */
    static long guestBytes(int depth) {
        long bytes = (4L << 20) + (long) depth * (Aio.MAX_IO_BYTES + MachineMemory.PAGE_SIZE);
        return (bytes + MachineMemory.PAGE_MASK) & ~MachineMemory.PAGE_MASK;
    }

    Hypervisor hypervisor() {
        return hypervisor;
    }

    Domain guest() {
        return guest;
    }
}
