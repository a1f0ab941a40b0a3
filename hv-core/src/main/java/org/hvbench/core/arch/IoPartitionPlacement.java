package org.hvbench.core.arch;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.dev.BlockDevice;
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
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.Toolstack;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code io-partition}: the driver in a privileged I/O partition's kernel, reached through Xen's split
 * drivers (Karger and Safford, figure 6). The guest's front end puts requests on a shared ring and
 * sends an event; the partition's back end reaches the guest's pages by grant and drives the device;
 * the device's interrupt goes to the partition as an event; responses come back on the ring with an
 * event to the guest. One I/O: SYSCALL, HYPERCALL (event send), VIRQ to the partition, DEVICE_START,
 * VMENTRY, SYSRET, DEVICE_IRQ, VIRQ to the partition, HYPERCALL (event send), VIRQ to the guest,
 * UPCALL; persistent grants add nothing, MAP adds a map and an unmap hypercall round trip per request,
 * COPY one copy hypercall round trip.
 *
 * <p>The toolstack can destroy the partition with I/O in flight and build a new one on the same disk
 * ({@link #destroyPartition}, {@link #rebuildPartition}): every front end sees its back end close,
 * reconnects to the new one and sends again what was not answered.
 *
 * <p>Under sHype ({@code mac}) every virtual disk carries a label the toolstack gives it, and the back
 * end asks the access-control module before it connects a front end to it; the toolstack is the
 * module's {@link Toolstack}: after a policy change it has the back end ask again for each front end
 * and takes away the disks the new policy forbids, and it stops a guest that breaks the new Chinese Wall.
 */
final class IoPartitionPlacement extends BasePlacement {
    /**
     * Rounds of the event upcall: the bound on events a kernel takes per upcall, so that a peer that
     * sends without pause cannot keep it there (XSA-391; EventStormTest).
     */
    static final int EVENT_ROUNDS = 16;

    static final long PARTITION_BYTES = 16L << 20;

    private final Hypervisor hypervisor;
    private final GrantOps grantOps;
    private final Domain guest;
    private final EventChannels channels;
    private final BlockFront front;
    private final EventPorts guestEvents;
    private final GrantTable guestGrants;
    private final Store store;
    private final MachineConfig config;
    private final GrantMode mode;
    private final CpuLayout layout;
    private final Cpu pcpu;
    private final boolean ownCpu;
    /** Every guest, the first included, in boot order: the toolstack reconnects them all. */
    private final List<Guest> guests = new ArrayList<>();
    // The partition: replaced when the toolstack rebuilds it, null while it is destroyed.
    private Domain partition;
    private BlockBack back;
    private DomainMemory partitionMemory;
    private EventPorts partitionEvents;
    private final AccessControlModule acm;
    /** The label the toolstack gives a virtual disk unless told otherwise (the placement policy's). */
    static final String VBD_LABEL = "guest";

    IoPartitionPlacement(MachineConfig config, int depth, GrantMode mode, CpuLayout layout) {
        super(Placement.IO_PARTITION, new Machine(config));
        hypervisor = new Hypervisor(machine);
        acm = installMac(hypervisor, config);
        hypervisor.attach(cpu);
        grantOps = new GrantOps(hypervisor);
        this.config = config;
        this.mode = mode;
        this.layout = layout;
        channels = new EventChannels(hypervisor);
        store = new Store();
        partition = hypervisor.createDomain("partition", "partition", PARTITION_BYTES, true);
        guest = hypervisor.createDomain("guest", "guest", HypervisorPlacement.guestBytes(depth), false);

        // The partition's kernel, on its own CPU or the guest's.
        pcpu = partitionCpu(hypervisor, partition, guest, layout);
        ownCpu = pcpu != cpu;
        bootPartition();

        Guest g = bootGuest(guest, depth, 0, machine.backing().sectors(), null, VBD_LABEL);
        if (g.front.detached()) {
            throw new IllegalStateException("the back end refused the guest its disk (access control)");
        }
        front = g.front;
        guestEvents = g.events;
        guestGrants = g.grants;
        booted(g.app);
        if (acm != null) {
            acm.setToolstack(new PartitionToolstack());
        }
    }

    /**
     * The partition's kernel on its CPU: its driver of the device, the back end, and the device's
     * interrupt as an event.
     */
    private void bootPartition() {
        pcpu.start(partition.kernel());
        partitionMemory = partitionMemory(hypervisor, partition, config);
        partitionEvents = kernelEvents(hypervisor, channels, partition, pcpu, partitionMemory, config);
        back = new BlockBack(hypervisor, partitionMemory, partitionEvents, store, mode, config.queueEntries());
        DeviceDriver driver = new DeviceDriver(pcpu, partitionMemory, new NativeDevicePort(machine.device(), hypervisor.deviceContext()),
            back, config.queueEntries());
        back.attachDevice(driver);
        int irqPort = channels.bindPhysicalIrq(pcpu, BLOCK_VECTOR, partition);
        machine.device().connectInterrupt(IrqLine.of(pcpu.interrupts(), BLOCK_VECTOR));
        partitionEvents.bind(irqPort, (c, port) -> driver.onInterrupt(c));
    }

    /**
     * The guest's kernel (grant table, event upcall, the front end) and its app; the back end
     * connects from what the front end wrote and serves sectors {@code [first, first + sectors)}.
     */
    private Guest bootGuest(Domain d, int depth, long first, long sectors, App.CompletionListener listener, String vbdLabel) {
        cpu.start(d.kernel());
        DomainMemory memory = new DomainMemory(d, machine.memory());
        EventPorts events = kernelEvents(hypervisor, channels, d, cpu, memory, config);
        GrantTable grants = new GrantTable(machine.memory(), cpu.view(d.space()), memory.allocate(4), 4);
        long r = hypervisor.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, grants.tableGpa(), 4, 0);
        if (r < 0) {
            throw new IllegalStateException(d + " cannot set up its grant table: " + Errno.name(r));
        }
        Kernel kernel = new Kernel(memory, d.kernel(), d.app(), depth);
        BlockFront f = new BlockFront(cpu, hypervisor, memory, grants, events, store, partition.id(), mode, kernel);
        kernel.attachDriver(f);

        pcpu.start(partition.kernel());
        long r2 = back.connect(pcpu, d, first, sectors, mac() ? vbdLabel : null);
        Guest g = new Guest(d, kernel, new App(cpu, kernel, memory, listener), f, grants, events, first, sectors, vbdLabel);
        guests.add(g);
        if (r2 < 0) {
            // Refused: the toolstack takes the disk away again, and the front end gives up on it.
            store.removeDirectory(Store.vbd(d.id()));
            cpu.start(d.kernel());
            f.backendChanged(cpu);
        } else {
            store.write(Store.vbd(d.id()) + Store.BACKEND_STATE, Store.CONNECTED);
        }
        cpu.start(d.kernel());
        return g;
    }

    /**
     * The toolstack destroys the partition ({@code xl destroy}) whatever it was doing, and tells every
     * front end, through the store, that its back end closed. Runs on the app's CPU while no other
     * party runs: between turns of the inline executor, or with the threaded executor closed (the
     * partition paused, the device quiet). Without the IOMMU the hypervisor does not know who drives
     * the device, so the toolstack resets it here; with it, {@link Hypervisor#destroyDomain} does. A
     * partition the hypervisor destroyed already is only cleaned up after.
     */
    void destroyPartition() {
        if (partition == null) {
            throw new IllegalStateException("the partition is destroyed already");
        }
        if (!config.iommuTranslates()) {
            machine.device().mmioWrite(BlockDevice.REG_CONTROL, 0);
        }
        if (!partition.destroyed()) {
            hypervisor.destroyDomain(partition);
        }
        partition = null;
        back = null;
        partitionMemory = null;
        partitionEvents = null;
        for (Guest g : guests) {
            if (g.front.detached()) {
                continue;
            }
            store.write(Store.vbd(g.domain.id()) + Store.BACKEND_STATE, Store.CLOSED);
            cpu.start(g.domain.kernel());
            g.front.backendChanged(cpu);
        }
        cpu.start(app().kernel().appContext());
    }

    /**
     * The toolstack builds a new partition with a new back end on the same disk, on the old one's
     * CPU; each front end sets up a new ring for it, the back end connects, and the front end sends
     * again every request that was not answered. Same conditions as {@link #destroyPartition}.
     */
    void rebuildPartition() {
        if (partition != null) {
            throw new IllegalStateException("the partition runs: destroy it first");
        }
        partition = hypervisor.createDomain("partition", "partition", PARTITION_BYTES, true);
        if (ownCpu) {
            hypervisor.runOn(partition, pcpu);
        }
        bootPartition();
        for (Guest g : guests) {
            if (g.front.detached()) {
                continue;
            }
            String dir = Store.vbd(g.domain.id());
            store.write(dir + Store.BACKEND, partition.id());
            store.write(dir + Store.BACKEND_STATE, Store.INIT_WAIT);
            cpu.start(g.domain.kernel());
            g.front.backendChanged(cpu);
            pcpu.start(partition.kernel());
            if (back.connect(pcpu, g.domain, g.first, g.sectors, mac() ? g.vbdLabel : null) < 0) {
                store.removeDirectory(dir);
            } else {
                store.write(dir + Store.BACKEND_STATE, Store.CONNECTED);
            }
            cpu.start(g.domain.kernel());
            g.front.backendChanged(cpu);
        }
        cpu.start(app().kernel().appContext());
    }

    /**
     * Boots one more guest on the same back end (set-up, or later while no other party runs, as for
     * {@link #destroyGuest}): its virtual disk
     * is sectors {@code [first, first + sectors)} of the real one, its app keeps up to {@code depth}
     * I/Os in flight (a power of two) and hands every completion to {@code listener}. It runs on the
     * app's CPU; the app of {@link #app()} keeps the CPU afterwards, and nothing done here counts.
     */
    Guest addGuest(String name, int depth, long first, long sectors, App.CompletionListener listener) {
        return addGuest(name, "guest", VBD_LABEL, depth, first, sectors, listener);
    }

    /**
     * {@link #addGuest(String, int, long, long, App.CompletionListener)} of a domain labelled
     * {@code label} whose virtual disk the toolstack labels {@code vbdLabel} (sHype's labels; without
     * access control they name nothing). A disk the back end is refused is taken away at once: the
     * guest runs, its front end detached ({@link BlockFront#detached}), its I/O failing with {@code -ENODEV}.
     *
     * @throws IllegalStateException when access control refuses to create the domain
     */
    Guest addGuest(String name, String label, String vbdLabel, int depth, long first, long sectors,
                   App.CompletionListener listener) {
        Domain d = hypervisor.createDomain(name, label, HypervisorPlacement.guestBytes(depth), false);
        if (layout == CpuLayout.CPU_PER_DOMAIN) {
            hypervisor.runOn(d, cpu);
        }
        Guest g = bootGuest(d, depth, first, sectors, listener, vbdLabel);
        cpu.start(app().kernel().appContext());
        for (Cpu c : cpus()) {
            c.trace().reset();
        }
        return g;
    }

    /**
     * The toolstack destroys the front-end guest {@code g} ({@code xl destroy}) whatever it was doing:
     * the hypervisor destroys its domain (the frames of it the back end still maps, and so its
     * device may still reach, go into quarantine instead of the free pool), the store forgets its
     * block device, and the back end is told that the front end is gone; it closes the connection once
     * the guest's requests on the device are done (see {@link BlockBack#disconnect}). Same conditions
     * as {@link #destroyPartition}: no other party runs. The guest of {@link #app()} cannot be destroyed
     * (the executors drive its app).
     *
     * @return the guest's requests still on the device, which the back end lets finish
     * @throws IllegalArgumentException for a guest that is not a live one of this placement, or the app's
     */
    int destroyGuest(Guest g) {
        if (g == null || !guests.contains(g) || g.domain == guest) {
            throw new IllegalArgumentException("destroyGuest: " + (g == null ? "null" : g.domain)
                + (g != null && g.domain == guest ? " runs the path's own app" : " is not a live guest of this placement"));
        }
        guests.remove(g);
        hypervisor.destroyDomain(g.domain);
        store.removeDirectory(Store.vbd(g.domain.id()));
        int left = 0;
        if (back != null) {
            pcpu.start(partition.kernel());
            left = back.disconnect(pcpu, g.domain);
        }
        cpu.start(app().kernel().appContext());
        return left;
    }

    /** A guest of this placement, as {@link #addGuest} booted it. */
    static final class Guest {
        final Domain domain;
        final Kernel kernel;
        final App app;
        final BlockFront front;
        final GrantTable grants;
        final EventPorts events;
        /** Its virtual disk: sectors {@code [first, first + sectors)} of the real one, and its label. */
        final long first;
        final long sectors;
        final String vbdLabel;

        Guest(Domain domain, Kernel kernel, App app, BlockFront front, GrantTable grants, EventPorts events, long first,
                long sectors, String vbdLabel) {
            this.vbdLabel = vbdLabel;
            this.domain = domain;
            this.kernel = kernel;
            this.app = app;
            this.front = front;
            this.grants = grants;
            this.events = events;
            this.first = first;
            this.sectors = sectors;
        }
    }

    private boolean mac() {
        return acm != null;
    }

    /** The access-control module, or null without {@code mac}. */
    AccessControlModule accessControl() {
        return acm;
    }

    /** The live guests, the first included, in boot order. */
    List<Guest> guests() {
        return java.util.Collections.unmodifiableList(guests);
    }

    /**
     * The toolstack takes guest {@code g}'s disk away: the back end stops taking its requests (those
     * on the device finish there), the store forgets the disk, and the front end ends what waits with
     * {@code -EIO}. Same conditions as {@link #destroyGuest}; the CPUs' contexts are left as found.
     */
    void detachDisk(Guest g) {
        Context onCpu = cpu.current();
        Context onPcpu = pcpu.current();
        if (back != null) {
            pcpu.start(partition.kernel());
            back.disconnect(pcpu, g.domain);
        }
        store.removeDirectory(Store.vbd(g.domain.id()));
        cpu.start(g.domain.kernel());
        g.front.backendChanged(cpu);
        pcpu.start(onPcpu);
        cpu.start(onCpu);
    }

    /** The toolstack's side of a policy change (see {@link Toolstack}). */
    private final class PartitionToolstack implements Toolstack {
        @Override
        public int violations(Policy p) {
            int n = 0;
            for (Guest g : guests) {
                if (!g.front.detached() && partition != null
                    && (AccessControlModule.sharing(p, g.domain.label(), g.vbdLabel) < 0
                        || AccessControlModule.sharing(p, partition.label(), g.domain.label()) < 0)) {
                    n++;
                }
            }
            return n;
        }

        /** The back end asks the module again, through its hypercall, for every front end it serves. */
        @Override
        public int revoke(Policy p) {
            if (back == null) {
                return 0;
            }
            Context onPcpu = pcpu.current();
            int n = 0;
            for (Guest g : List.copyOf(guests)) {
                if (g.front.detached()) {
                    continue;
                }
                pcpu.start(partition.kernel());
                if (back.mayServe(pcpu, g.domain, g.vbdLabel) < 0) {
                    detachDisk(g);
                    n++;
                }
            }
            pcpu.start(onPcpu);
            return n;
        }

        @Override
        public boolean stop(Domain d) {
            for (Guest g : guests) {
                if (g.domain == d && d != guest) {
                    Context onCpu = cpu.current();
                    Context onPcpu = pcpu.current();
                    destroyGuest(g);
                    pcpu.start(onPcpu);
                    cpu.start(onCpu);
                    return true;
                }
            }
            return false;
        }
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

    DomainMemory partitionMemory() {
        return partitionMemory;
    }

    EventChannels channels() {
        return channels;
    }

    GrantOps grantOps() {
        return grantOps;
    }

    /** The first guest kernel's grant table. */
    GrantTable guestGrants() {
        return guestGrants;
    }

    /** The partition kernel's event channels (to mask its ports in tests); null while it is destroyed. */
    EventPorts partitionEvents() {
        return partitionEvents;
    }

    /** The first guest's event ports. */
    EventPorts guestEvents() {
        return guestEvents;
    }

    /** The toolstack's store, where further front ends announce themselves. */
    Store store() {
        return store;
    }
}
