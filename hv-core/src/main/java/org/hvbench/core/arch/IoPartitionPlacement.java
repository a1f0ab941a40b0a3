package org.hvbench.core.arch;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.BlockBack;
import org.hvbench.core.guest.BlockFront;
import org.hvbench.core.guest.DeviceDriver;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Kernel;
import org.hvbench.core.guest.NativeDevicePort;
import org.hvbench.core.guest.Store;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;

/**
 * {@code io-partition}: the driver in a privileged I/O partition's kernel, reached through Xen's split
 * drivers (Karger and Safford, figure 6). The guest's front end puts requests on a shared ring and
 * sends an event; the partition's back end reaches the guest's pages by grant and drives the device;
 * the device's interrupt goes to the partition as an event; responses come back on the ring with an
 * event to the guest. One I/O: SYSCALL, HYPERCALL (event send), VIRQ to the partition, DEVICE_START,
 * VMENTRY, SYSRET, DEVICE_IRQ, VIRQ to the partition, HYPERCALL (event send), VIRQ to the guest,
 * UPCALL; persistent grants add nothing, MAP adds a map and an unmap hypercall round trip per request,
 * COPY one copy hypercall round trip.
 */
final class IoPartitionPlacement extends BasePlacement {
    /** Rounds of the event upcall: the bound on events a kernel takes per upcall. */
    static final int EVENT_ROUNDS = 16;

    private final Hypervisor hypervisor;
    private final Domain partition;
    private final Domain guest;
    private final EventChannels channels;
    private final BlockBack back;
    private final BlockFront front;
    private final Store store;

    IoPartitionPlacement(MachineConfig config, int depth, GrantMode mode, CpuLayout layout) {
        super(Placement.IO_PARTITION, new Machine(config));
        hypervisor = new Hypervisor(machine);
        hypervisor.attach(cpu);
        new GrantOps(hypervisor);
        channels = new EventChannels(hypervisor);
        store = new Store();
        partition = hypervisor.createDomain("partition", "partition", 16L << 20, true);
        guest = hypervisor.createDomain("guest", "guest", HypervisorPlacement.guestBytes(depth), false);

        // The partition's kernel, on its own CPU or the guest's: its driver of the device, the back end,
        // and the device's interrupt as an event.
        Cpu pcpu = partitionCpu(hypervisor, partition, guest, layout);
        pcpu.start(partition.kernel());
        DomainMemory partitionMemory = partitionMemory(hypervisor, partition, config);
        EventPorts partitionEvents = kernelEvents(hypervisor, channels, partition, pcpu, partitionMemory, config);
        back = new BlockBack(hypervisor, partitionMemory, partitionEvents, store, mode, config.queueEntries());
        DeviceDriver driver = new DeviceDriver(pcpu, partitionMemory, new NativeDevicePort(machine.device(), hypervisor.deviceContext()),
            back, config.queueEntries());
        back.attachDevice(driver);
        int irqPort = channels.bindPhysicalIrq(pcpu, BLOCK_VECTOR, partition);
        machine.device().connectInterrupt(IrqLine.of(pcpu.interrupts(), BLOCK_VECTOR));
        partitionEvents.bind(irqPort, (c, port) -> driver.onInterrupt(c));

        // The guest's kernel: grant table, event upcall, the front end.
        cpu.start(guest.kernel());
        DomainMemory guestMemory = new DomainMemory(guest, machine.memory());
        EventPorts guestEvents = kernelEvents(hypervisor, channels, guest, cpu, guestMemory, config);
        GrantTable grants = new GrantTable(machine.memory(), cpu.view(guest.space()), guestMemory.allocate(4), 4);
        long r = hypervisor.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, grants.tableGpa(), 4, 0);
        if (r < 0) {
            throw new IllegalStateException("the guest cannot set up its grant table: " + Errno.name(r));
        }
        Kernel kernel = new Kernel(guestMemory, guest.kernel(), guest.app(), depth);
        front = new BlockFront(cpu, hypervisor, guestMemory, grants, guestEvents, store, partition.id(), mode, kernel);
        kernel.attachDriver(front);

        // The back end connects from what the front end wrote.
        pcpu.start(partition.kernel());
        back.connect(pcpu, guest, 0, machine.backing().sectors());
        cpu.start(guest.kernel());
        booted(new App(cpu, kernel, guestMemory));
    }

    @Override
    public long notifications() {
        return channels.sends();
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

    BlockBack back() {
        return back;
    }

    BlockFront front() {
        return front;
    }

    EventChannels channels() {
        return channels;
    }

    /** The toolstack's store, where further front ends announce themselves. */
    Store store() {
        return store;
    }
}
