package org.hvbench.core.arch;

import java.util.ArrayList;
import java.util.List;

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
 *
 * <p>More guests ({@link #addGuest}) each get an emulator of their own, a process of the partition's
 * kernel, as each Xen HVM guest gets its own QEMU; they share the partition's kernel, its driver and
 * the device.
 */
final class EmulatorPlacement extends BasePlacement {
    private final Hypervisor hypervisor;
    private final Domain partition;
    private final Guest first;
    private final Cpu pcpu;
    private final EventChannels channels;
    private final GrantOps grantOps;
    private final MachineConfig config;
    private final CpuLayout layout;
    private final GrantMode mode;
    private final DomainMemory partitionMemory;
    private final EventPorts partitionEvents;
    private final Kernel partitionKernel;
    /** Live guests, the first included, in boot order. */
    private final List<Guest> guests = new ArrayList<>();
    /** Destroyed guests whose emulator has not let go yet. */
    private final List<Guest> closing = new ArrayList<>();
    private long emulatorsClosed;

    EmulatorPlacement(MachineConfig config, int depth, GrantMode mode, CpuLayout layout) {
        this(config, depth, mode, layout, null);
    }

    /** As the placement's own constructor, with {@code listener} hearing of each of the guest app's completions. */
    EmulatorPlacement(MachineConfig config, int depth, GrantMode mode, CpuLayout layout, App.CompletionListener listener) {
        super(Placement.DOM0_EMULATOR, new Machine(config));
        this.config = config;
        this.layout = layout;
        this.mode = mode;
        hypervisor = new Hypervisor(machine);
        installMac(hypervisor, config);
        hypervisor.attach(cpu);
        grantOps = new GrantOps(hypervisor);
        channels = new EventChannels(hypervisor);
        partition = hypervisor.createDomain("partition", "partition", 16L << 20, true);
        Domain guest = hypervisor.createDomain("guest", "guest", HypervisorPlacement.guestBytes(depth), false);

        // The partition, on its own CPU or the guest's: its kernel drives the device; its
        // applications are the emulators, one per guest.
        pcpu = partitionCpu(hypervisor, partition, guest, layout);
        pcpu.start(partition.kernel());
        partitionMemory = partitionMemory(hypervisor, partition, config);
        partitionEvents = kernelEvents(hypervisor, channels, partition, pcpu, partitionMemory, config);
        Context emulatorContext = new Context("emulator", partition.id(), PrivilegeLevel.USER, partition.space());
        partitionKernel = new Kernel(partitionMemory, partition.kernel(), emulatorContext, 128);
        DeviceDriver driver = new DeviceDriver(pcpu, partitionMemory, new NativeDevicePort(machine.device(),
            hypervisor.deviceContext()), partitionKernel, config.queueEntries());
        partitionKernel.attachDriver(driver);
        int irqPort = channels.bindPhysicalIrq(pcpu, BLOCK_VECTOR, partition);
        machine.device().connectInterrupt(IrqLine.of(pcpu.interrupts(), BLOCK_VECTOR));
        partitionEvents.bind(irqPort, (c, port) -> {
            driver.onInterrupt(c);
            c.idleSwitch(partition.kernel());
            retireClosedEmulators();
        });
        first = bootGuest(guest, depth, partitionKernel.process(), 0, machine.backing().sectors(), listener);
        booted(first.app);
    }

    /**
     * The guest's emulator in the partition (the request page and port, the emulator process) and the
     * guest itself: an unmodified driver whose register writes trap.
     */
    private Guest bootGuest(Domain d, int depth, Kernel.Process process, long firstSector, long sectors,
                            App.CompletionListener listener) {
        pcpu.start(partition.kernel());
        IoRequestForwarder requests = new IoRequestForwarder(hypervisor, channels, partition,
            partitionMemory.allocateWindow(1), d);
        Emulator emulator = new Emulator(pcpu, hypervisor, partitionMemory, process, partitionEvents, d, requests, mode,
            firstSector, sectors, config.queueEntries());

        cpu.start(d.kernel());
        DomainMemory guestMemory = new DomainMemory(d, machine.memory());
        Kernel kernel = new Kernel(guestMemory, d.kernel(), d.app(), depth);
        kernel.attachDriver(new DeviceDriver(cpu, guestMemory, new TrappedDevicePort(hypervisor), kernel, config.queueEntries()));
        d.setVirqHandler(kernel::onVirtualInterrupt);
        Guest g = new Guest(d, new App(cpu, kernel, guestMemory, listener), emulator, requests);
        guests.add(g);
        return g;
    }

    /**
     * Boots one more guest with an emulator of its own (set-up, or later while no other party runs,
     * as for {@link #destroyGuest}): its virtual disk is sectors {@code [firstSector, firstSector +
     * sectors)} of the real one, its app keeps up to {@code depth} I/Os in flight and hands every
     * completion to {@code listener}. It runs on the app's CPU; the app of {@link #app()} keeps the
     * CPU afterwards, and nothing done here counts.
     */
    Guest addGuest(String name, int depth, long firstSector, long sectors, App.CompletionListener listener) {
        if (firstSector < 0 || sectors < 1 || firstSector + sectors > machine.backing().sectors()) {
            throw new IllegalArgumentException("addGuest: sectors [" + firstSector + ", " + (firstSector + sectors)
                + ") are not on the disk of " + machine.backing().sectors() + " sectors");
        }
        Domain d = hypervisor.createDomain(name, "guest", HypervisorPlacement.guestBytes(depth), false);
        if (layout == CpuLayout.CPU_PER_DOMAIN) {
            hypervisor.runOn(d, cpu);
        }
        Context context = new Context("emulator-" + name, partition.id(), PrivilegeLevel.USER, partition.space());
        Guest g = bootGuest(d, depth, partitionKernel.newProcess(context), firstSector, sectors, listener);
        cpu.start(app().kernel().appContext());
        for (Cpu c : cpus()) {
            c.trace().reset();
        }
        return g;
    }

    /**
     * The toolstack destroys guest {@code g} whatever it was doing: the hypervisor destroys its domain
     * (the frames of it the emulator still maps, and so the device may still reach, go into
     * quarantine) and the emulator lets go of it once its I/Os under way are done
     * ({@link Emulator#guestDestroyed}); then its request page is freed and its process leaves the
     * partition's kernel. Runs while no other party runs (inline between turns, or with the threaded
     * executor closed). The path's own guest may be destroyed only when it is the only one (the
     * executors drive its app; nothing may be submitted through it afterwards).
     *
     * @return the emulator's I/Os still under way
     * @throws IllegalArgumentException for a guest that is not a live one of this placement, or the
     *     path's own while others run
     */
    int destroyGuest(Guest g) {
        if (g == null || !guests.contains(g) || g == first && guests.size() > 1) {
            throw new IllegalArgumentException("destroyGuest: " + (g == null ? "null" : g.domain)
                + (g == first ? " runs the path's own app" : " is not a live guest of this placement"));
        }
        guests.remove(g);
        hypervisor.destroyDomain(g.domain);
        pcpu.start(partition.kernel());
        int left = g.emulator.guestDestroyed(pcpu);
        closing.add(g);
        retireClosedEmulators();
        cpu.start(app().kernel().appContext());
        return left;
    }

    /** Emulators that let go of their dead guest: request page freed, process gone from the kernel. */
    private void retireClosedEmulators() {
        for (int i = closing.size() - 1; i >= 0; i--) {
            Guest g = closing.get(i);
            if (g.emulator.closed()) {
                closing.remove(i);
                g.requests.close();
                partitionMemory.releaseWindow(g.requests.pageGpa(), 1);
                if (g != first) {
                    partitionKernel.removeProcess(g.emulator.process());
                }
                emulatorsClosed++;
            }
        }
    }

    /** Guests destroyed whose emulator has let go of them. */
    long emulatorsClosed() {
        return emulatorsClosed;
    }

    /** The destroy of the path's own guest, the only one (see {@link #destroyGuest(Guest)}). */
    int destroyGuest() {
        if (first.domain.destroyed()) {
            throw new IllegalStateException("destroyGuest: " + first.domain + " is destroyed already");
        }
        return destroyGuest(first);
    }

    /** A guest of this placement and its emulator. */
    static final class Guest {
        final Domain domain;
        final App app;
        final Emulator emulator;
        final IoRequestForwarder requests;

        Guest(Domain domain, App app, Emulator emulator, IoRequestForwarder requests) {
            this.domain = domain;
            this.app = app;
            this.emulator = emulator;
            this.requests = requests;
        }
    }

    EventChannels channels() {
        return channels;
    }

    GrantOps grantOps() {
        return grantOps;
    }

    /** The path's guest's emulator's counterparts of ring notifications: I/O requests forwarded to it, interrupts it injects. */
    @Override
    public long notifications() {
        return first.requests.forwarded() + first.emulator.interruptsInjected();
    }

    Hypervisor hypervisor() {
        return hypervisor;
    }

    Domain partition() {
        return partition;
    }

    /** The path's own guest. */
    Domain guest() {
        return first.domain;
    }

    Emulator emulator() {
        return first.emulator;
    }

    Kernel partitionKernel() {
        return partitionKernel;
    }
}
