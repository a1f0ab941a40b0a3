package org.hvbench.core.arch;

import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.cpu.PostedInterrupts;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.DeviceDriver;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.Kernel;
import org.hvbench.core.guest.NativeDevicePort;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;

/**
 * {@code passthrough} and {@code passthrough-posted}: pure isolation (Karger and Safford, figure 1;
 * PR/SM, a MILS separation kernel, Xen with an IOMMU). The device is given to the guest, whose own
 * unmodified driver programs it directly; the IOMMU translates every DMA through the guest's p2m, so
 * the device reaches the guest's memory and nothing else. The interrupt goes to the hypervisor, which
 * passes it on as a virtual interrupt (6 crossings), or, with posted interrupts, straight to the guest
 * kernel (5, as native).
 */
final class PassthroughPlacement extends BasePlacement {
    /** The vector the posted-interrupt notification arrives on (Linux uses 0xf2 on x86; ours are 64). */
    static final int NOTIFICATION_VECTOR = 61;

    private final Hypervisor hypervisor;
    private final Domain guest;
    private final PostedInterrupts posted;

    PassthroughPlacement(Placement placement, MachineConfig config, int depth, boolean postedInterrupts) {
        super(placement, new Machine(config));
        if (!config.iommuTranslates()) {
            throw new IllegalArgumentException("iommu: placement " + placement + " needs iommu=on: a device given to a"
                + " guest must have its DMA translated, or the guest could reach any frame");
        }
        hypervisor = new Hypervisor(machine);
        installMac(hypervisor, config);
        hypervisor.attach(cpu);
        guest = hypervisor.createDomain("guest", "guest", HypervisorPlacement.guestBytes(depth), false);
        hypervisor.assignDevice(Machine.BLOCK_DEVICE_ID, guest);
        cpu.start(guest.kernel());
        DomainMemory memory = new DomainMemory(guest, machine.memory());
        Kernel kernel = new Kernel(memory, guest.kernel(), guest.app(), depth);
        if (postedInterrupts) {
            posted = new PostedInterrupts(cpu.interrupts(), NOTIFICATION_VECTOR);
            machine.device().connectInterrupt(posted.line(BLOCK_VECTOR));
            PostedInterrupts.Handler isr = vector -> kernel.onVirtualInterrupt(cpu);
            cpu.interrupts().register(NOTIFICATION_VECTOR, (c, v) -> {
                c.takeInterrupt(hypervisor.deviceContext(), guest.kernel(),
                    "posted interrupt: the device interrupts the guest kernel directly");
                posted.drain(isr);
            });
        } else {
            posted = null;
            machine.device().connectInterrupt(IrqLine.of(cpu.interrupts(), BLOCK_VECTOR));
            cpu.interrupts().register(BLOCK_VECTOR, (c, v) -> {
                c.takeInterrupt(hypervisor.deviceContext(), hypervisor.context(c), "the device interrupts the hypervisor: I/O done");
                hypervisor.notify(c, guest, "the hypervisor passes the interrupt on to the guest kernel");
            });
        }
        guest.setVirqHandler(kernel::onVirtualInterrupt);
        kernel.attachDriver(new DeviceDriver(cpu, memory, new NativeDevicePort(machine.device(), hypervisor.deviceContext()),
            kernel, config.queueEntries()));
        booted(new App(cpu, kernel, memory));
    }

    Hypervisor hypervisor() {
        return hypervisor;
    }

    Domain guest() {
        return guest;
    }

    PostedInterrupts posted() {
        return posted;
    }
}
