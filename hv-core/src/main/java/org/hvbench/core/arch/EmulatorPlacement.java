package org.hvbench.core.arch;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.evtchn.IoRequestForwarder;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.DeviceDriver;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.Emulator;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Kernel;
import org.hvbench.core.guest.NativeDevicePort;
import org.hvbench.core.guest.TrappedDevicePort;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;

/**
 * {@code dom0-emulator}: the device emulated in user space of the I/O partition (Xen HVM with a
 * QEMU-style emulator; Karger and Safford, figure 7). The guest's unmodified driver traps; the
 * hypervisor forwards the request to the partition, whose kernel wakes the emulator; the emulator does
 * asynchronous I/O through its kernel, which drives the device; completions go the same way back and
 * the emulator has the hypervisor interrupt the guest. One I/O: SYSCALL, VMEXIT, VIRQ, UPCALL,
 * SYSCALL, DEVICE_START, SYSRET, VMENTRY, SYSRET, DEVICE_IRQ, VIRQ, UPCALL, SYSCALL, HYPERCALL, VIRQ,
 * UPCALL.
 */
final class EmulatorPlacement extends BasePlacement {
    private final Hypervisor hypervisor;
    private final Domain partition;
    private final Domain guest;
    private final Emulator emulator;
    private final IoRequestForwarder requests;
    private final Cpu pcpu;
    private final EventChannels channels;
    private final GrantOps grantOps;

    EmulatorPlacement(MachineConfig config, int depth, GrantMode mode, CpuLayout layout) {
        this(config, depth, mode, layout, null);
    }

    /** As the placement's own constructor, with {@code listener} hearing of each of the guest app's completions. */
    EmulatorPlacement(MachineConfig config, int depth, GrantMode mode, CpuLayout layout, App.CompletionListener listener) {
        super(Placement.DOM0_EMULATOR, new Machine(config));
        hypervisor = new Hypervisor(machine);
        hypervisor.attach(cpu);
        grantOps = new GrantOps(hypervisor);
        channels = new EventChannels(hypervisor);
        partition = hypervisor.createDomain("partition", "partition", 16L << 20, true);
        guest = hypervisor.createDomain("guest", "guest", HypervisorPlacement.guestBytes(depth), false);

        // The partition, on its own CPU or the guest's: its kernel drives the device; its one
        // application is the emulator.
        pcpu = partitionCpu(hypervisor, partition, guest, layout);
        pcpu.start(partition.kernel());
        DomainMemory partitionMemory = partitionMemory(hypervisor, partition, config);
        EventPorts partitionEvents = kernelEvents(hypervisor, channels, partition, pcpu, partitionMemory, config);
        Context emulatorContext = new Context("emulator", partition.id(), PrivilegeLevel.USER, partition.space());
        Kernel partitionKernel = new Kernel(partitionMemory, partition.kernel(), emulatorContext, 128);
        DeviceDriver driver = new DeviceDriver(pcpu, partitionMemory, new NativeDevicePort(machine.device(),
            hypervisor.deviceContext()), partitionKernel, config.queueEntries());
        partitionKernel.attachDriver(driver);
        int irqPort = channels.bindPhysicalIrq(pcpu, BLOCK_VECTOR, partition);
        machine.device().connectInterrupt(IrqLine.of(pcpu.interrupts(), BLOCK_VECTOR));
        partitionEvents.bind(irqPort, (c, port) -> {
            driver.onInterrupt(c);
            c.idleSwitch(partition.kernel());
        });
        requests = new IoRequestForwarder(hypervisor, channels, partition,
            partitionMemory.allocateWindow(1), guest);
        emulator = new Emulator(pcpu, hypervisor, partitionMemory, partitionKernel, partitionEvents, guest, requests, mode,
            0, machine.backing().sectors(), config.queueEntries());

        // The guest: an unmodified driver whose register writes trap.
        cpu.start(guest.kernel());
        DomainMemory guestMemory = new DomainMemory(guest, machine.memory());
        Kernel kernel = new Kernel(guestMemory, guest.kernel(), guest.app(), depth);
        kernel.attachDriver(new DeviceDriver(cpu, guestMemory, new TrappedDevicePort(hypervisor), kernel, config.queueEntries()));
        guest.setVirqHandler(kernel::onVirtualInterrupt);
        booted(new App(cpu, kernel, guestMemory, listener));
    }

    /**
     * The toolstack destroys the guest whatever it was doing: the hypervisor destroys its domain (the
     * frames of it the emulator still maps, and so the device may still reach, go into quarantine) and
     * the emulator lets go of it once its I/Os under way are done ({@link Emulator#guestDestroyed}).
     * Runs while no other party runs (inline between turns, or with the threaded executor closed).
     * The app of {@link #app()} is the dead guest's afterwards: nothing may be submitted through it.
     *
     * @return the emulator's I/Os still under way
     */
    int destroyGuest() {
        if (guest.destroyed()) {
            throw new IllegalStateException("destroyGuest: " + guest + " is destroyed already");
        }
        hypervisor.destroyDomain(guest);
        pcpu.start(partition.kernel());
        int left = emulator.guestDestroyed(pcpu);
        cpu.start(app().kernel().appContext());
        return left;
    }

    EventChannels channels() {
        return channels;
    }

    GrantOps grantOps() {
        return grantOps;
    }

    /** The emulator's counterparts of ring notifications: I/O requests forwarded to it, interrupts it injects. */
    @Override
    public long notifications() {
        return requests.forwarded() + emulator.interruptsInjected();
    }

    Hypervisor hypervisor() {
        return hypervisor;
    }

    Domain partition() {
        return partition;
    }

    Domain guest() {
        return guest;
    }

    Emulator emulator() {
        return emulator;
    }
}
