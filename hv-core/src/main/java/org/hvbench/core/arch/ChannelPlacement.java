package org.hvbench.core.arch;

import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.ChannelDriver;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.Kernel;
import org.hvbench.core.hv.DirectChannel;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;

/**
 * {@code channel-program} and {@code channel-program-iommu}: the System/360 way of virtual I/O
 * (Karger and Safford, section 1). The guest's driver writes a chain of commands, one per segment of
 * every request it has queued, and starts it with one trapped start-I/O; one interrupt ends the chain.
 * A chain of N I/Os costs the 8 crossings of figure 5 once: 8/N per I/O.
 * <ul>
 * <li>{@code channel-program}: the hypervisor owns the device; it copies the chain, checks every
 *     command and address against the guest's memory and virtual disk, rewrites the addresses to
 *     machine addresses and starts the commands of the copy.</li>
 * <li>{@code channel-program-iommu}: the device is given to the guest; the hypervisor hands the
 *     guest's own chain to it, and the IOMMU translates every fetch and transfer through the guest's
 *     p2m, so the guest may change its chain while it runs and still reach only its own memory.</li>
 * </ul>
 */
final class ChannelPlacement extends BasePlacement {
    private final Hypervisor hypervisor;
    private final Domain guest;
    private final ChannelDriver driver;
    private final DirectChannel direct;

    ChannelPlacement(Placement placement, MachineConfig config, int depth, boolean iommu) {
        super(placement, new Machine(config));
        hypervisor = new Hypervisor(machine);
        installMac(hypervisor, config);
        guest = hypervisor.createDomain("guest", "guest", HypervisorPlacement.guestBytes(depth), false);
        if (iommu) {
            if (!config.iommuTranslates()) {
                throw new IllegalArgumentException("iommu: placement " + placement + " needs iommu=on: the device runs the"
                    + " guest's own chain, and only the IOMMU keeps its addresses inside the guest");
            }
            hypervisor.attach(cpu);
            hypervisor.assignDevice(Machine.BLOCK_DEVICE_ID, guest);
            direct = new DirectChannel(hypervisor, machine.device());
            guest.setChannelHandler(direct);
            machine.device().connectInterrupt(IrqLine.of(cpu.interrupts(), BLOCK_VECTOR));
            cpu.interrupts().register(BLOCK_VECTOR, (c, v) -> {
                c.takeInterrupt(hypervisor.deviceContext(), hypervisor.context(c), "the device interrupts the hypervisor: chain ended");
                hypervisor.notify(c, guest, "the hypervisor passes the channel's interrupt on to the guest kernel");
            });
        } else {
            hypervisor.attachBlockDevice(cpu, BLOCK_VECTOR);
            hypervisor.blockDriver().assignDisk(guest, 0, machine.backing().sectors());
            guest.setChannelHandler(hypervisor.blockDriver());
            direct = null;
        }
        DomainMemory os = new DomainMemory(guest, machine.memory());
        cpu.start(guest.kernel());
        Kernel kernel = new Kernel(os, guest.kernel(), guest.app(), depth);
        driver = new ChannelDriver(cpu, hypervisor, os, kernel);
        kernel.attachDriver(driver);
        guest.setVirqHandler(kernel::onVirtualInterrupt);
        booted(new App(cpu, kernel, os));
    }

    /**
     * {@code channel-program} only (the hypervisor shares the device): boots one more guest whose
     * chains the hypervisor checks against the extent {@code [firstSector, firstSector + sectors)},
     * which must not overlap another guest's (shrink the path's own first with
     * {@link #assignOwnDisk}). Set-up only: the path's app keeps the CPU and nothing done here counts.
     */
    Tenants.Guest addGuest(String name, int depth, long firstSector, long sectors) {
        if (direct != null) {
            throw new IllegalStateException("channel-program-iommu gives the device to one guest: it has no second guest");
        }
        Domain d = hypervisor.createDomain(name, "guest", HypervisorPlacement.guestBytes(depth), false);
        hypervisor.blockDriver().assignDisk(d, firstSector, sectors);
        d.setChannelHandler(hypervisor.blockDriver());
        DomainMemory os = new DomainMemory(d, machine.memory());
        cpu.start(d.kernel());
        Kernel kernel = new Kernel(os, d.kernel(), d.app(), depth);
        kernel.attachDriver(new ChannelDriver(cpu, hypervisor, os, kernel));
        d.setVirqHandler(kernel::onVirtualInterrupt);
        App a = new App(cpu, kernel, os);
        cpu.start(app().kernel().appContext());
        cpu.trace().reset();
        return new Tenants.Guest(this, d, a, sectors);
    }

    /** {@code channel-program}: gives the path's own guest the extent {@code [firstSector, firstSector + sectors)}. */
    void assignOwnDisk(long firstSector, long sectors) {
        hypervisor.blockDriver().assignDisk(guest, firstSector, sectors);
    }

    Hypervisor hypervisor() {
        return hypervisor;
    }

    Domain guest() {
        return guest;
    }

    ChannelDriver driver() {
        return driver;
    }

    /** The start-I/O handler of the IOMMU variant, or {@code null}. */
    DirectChannel direct() {
        return direct;
    }
}
