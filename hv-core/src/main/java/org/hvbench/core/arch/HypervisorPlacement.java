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
    private final boolean paravirtual;
    private final int queueEntries;

    HypervisorPlacement(Placement placement, MachineConfig config, int depth, boolean paravirtual) {
        super(placement, new Machine(config));
        this.paravirtual = paravirtual;
        this.queueEntries = config.queueEntries();
        hypervisor = new Hypervisor(machine);
        installMac(hypervisor, config);
        hypervisor.attachBlockDevice(cpu, BLOCK_VECTOR);
        guest = hypervisor.createDomain("guest", "guest", guestBytes(depth), false);
        booted(bootGuest(guest, depth, 0, machine.backing().sectors()));
    }

    private App bootGuest(Domain d, int depth, long firstSector, long sectors) {
        hypervisor.blockDriver().assignDisk(d, firstSector, sectors);
        d.setMmioHandler(hypervisor.blockDriver());
        DomainMemory os = new DomainMemory(d, machine.memory());
        cpu.start(d.kernel());
        Kernel kernel = new Kernel(os, d.kernel(), d.app(), depth);
        kernel.attachDriver(paravirtual
            ? new HypercallDriver(cpu, hypervisor, os, kernel)
            : new DeviceDriver(cpu, os, new TrappedDevicePort(hypervisor), kernel, queueEntries));
        d.setVirqHandler(kernel::onVirtualInterrupt);
        return new App(cpu, kernel, os);
    }

    /**
     * Boots one more guest on the hypervisor's driver, its virtual disk sectors {@code [firstSector,
     * firstSector + sectors)} of the real one (which must not overlap another guest's: shrink the
     * path's own first with {@link #assignOwnDisk}). Set-up only: the app of {@link #app()} keeps the
     * CPU afterwards and nothing done here counts.
     */
    Tenants.Guest addGuest(String name, int depth, long firstSector, long sectors) {
        Domain d = hypervisor.createDomain(name, "guest", guestBytes(depth), false);
        App a = bootGuest(d, depth, firstSector, sectors);
        cpu.start(app().kernel().appContext());
        cpu.trace().reset();
        return new Tenants.Guest(this, d, a, sectors);
    }

    /** Gives the path's own guest the extent {@code [firstSector, firstSector + sectors)} instead of the whole disk. */
    void assignOwnDisk(long firstSector, long sectors) {
        hypervisor.blockDriver().assignDisk(guest, firstSector, sectors);
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
