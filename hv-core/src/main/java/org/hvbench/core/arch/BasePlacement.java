package org.hvbench.core.arch;

import org.agrona.concurrent.Agent;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.evtchn.FifoEvents;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.guest.App;
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;

/** What every placement has: the machine, the app's CPU, the app, and the parties to run. */
abstract class BasePlacement implements IoPath {
    /** Interrupt vector of the block device (the first one x86 leaves to devices). */
    static final int BLOCK_VECTOR = 32;
    /** The bound on events a FIFO upcall takes, as the two-level upcall's rounds bound it (XSA-391). */
    static final int FIFO_EVENTS_PER_UPCALL = 1024;

    private final Placement placement;
    protected final Machine machine;
    protected final Cpu cpu;
    private App app;
    private Agent[] parties;
    private Cpu[] cpus;
    private FifoEvents fifoEvents;

    BasePlacement(Placement placement, Machine machine) {
        this.placement = placement;
        this.machine = machine;
        this.cpu = machine.newCpu("cpu0");
    }

    /**
     * The policy {@code mac=ste} and {@code mac=chwall-ste} install: dom0 and the partition share with
     * every guest, the block device is labelled for guests, and the Chinese Wall has a conflict set
     * (guests against a type no domain holds) so that its check runs on every creation.
     */
    static final String PLACEMENT_POLICY = String.join("\n",
        "policy placements",
        "kind KIND",
        "ste-types system guests",
        "chwall-types guests other",
        "conflict guests other",
        "label dom0 ste system guests",
        "label partition ste system guests",
        "label guest ste guests chwall guests",
        "");

    /**
     * Installs sHype in {@code hv} when {@code config} asks for it ({@code mac}), before the placement
     * creates its domains: every bind-time hook then decides by the placement policy, with dom0 as
     * the Policy Manager.
     *
     * @return the module, or null when {@code mac} is off
     */
    static AccessControlModule installMac(Hypervisor hv, MachineConfig config) {
        if ("off".equals(config.mac())) {
            return null;
        }
        String kind = "ste".equals(config.mac()) ? "ste" : "chwall+ste";
        try {
            AccessControlModule acm = new AccessControlModule(PolicyCompiler.compile(PLACEMENT_POLICY.replace("KIND", kind)));
            acm.labelDevice(Machine.BLOCK_DEVICE_ID, "guest");
            acm.install(hv, hv.dom0());
            return acm;
        } catch (PolicyException e) {
            throw new IllegalStateException("the placement policy does not compile: " + e.getMessage(), e);
        }
    }

    /** Ends the boot: the app runs, and nothing done so far counts. */
    protected final void booted(App bootedApp) {
        this.app = bootedApp;
        this.cpus = machine.cpus().toArray(new Cpu[0]);
        this.parties = new Agent[] {machine.device(), new InterruptDelivery(cpu)};
        cpu.start(bootedApp.kernel().appContext());
        for (Cpu c : cpus) {
            c.trace().reset();
        }
    }

    /**
     * The CPU {@code partition} runs on: the app's with {@link CpuLayout#ONE_CPU}; with
     * {@link CpuLayout#CPU_PER_DOMAIN}, a CPU of its own, and the guest is pinned to the app's CPU, so
     * that events between them cross CPUs.
     */
    protected Cpu partitionCpu(Hypervisor hypervisor, Domain partition, Domain guest, CpuLayout layout) {
        if (layout == CpuLayout.ONE_CPU) {
            return cpu;
        }
        Cpu own = machine.newCpu("cpu1");
        hypervisor.runOn(partition, own);
        hypervisor.runOn(guest, cpu);
        return own;
    }

    /**
     * A kernel's event channels in the layout {@code config} asks for: the two-level bitmaps of its
     * shared-info page, or FIFO queues in two pages of its mapping window ({@code EVTCHN_INIT_CONTROL},
     * made by the kernel on {@code cpu}, which must be running it). Registered as its upcall.
     */
    protected EventPorts kernelEvents(Hypervisor hv, EventChannels channels, Domain domain, Cpu on, DomainMemory memory,
                                      MachineConfig config) {
        if (!config.fifoEvents()) {
            EventDispatcher d = new EventDispatcher(hv, domain, machine.memory(), on.view(domain.space()),
                domain.sharedInfoGpa(), IoPartitionPlacement.EVENT_ROUNDS);
            domain.setVirqHandler(d);
            return d;
        }
        if (fifoEvents == null) {
            fifoEvents = new FifoEvents(hv, channels);
        }
        long gpa = memory.allocateWindow(2);
        long r = hv.hypercall(on, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_INIT_CONTROL, gpa, 0, 0);
        if (r < 0) {
            throw new IllegalStateException(domain + " cannot set up FIFO events: " + Errno.name(r));
        }
        FifoDispatcher d = FifoDispatcher.forDomain(hv, domain, on.view(domain.space()), gpa, FIFO_EVENTS_PER_UPCALL);
        domain.setVirqHandler(d);
        return d;
    }

    /**
     * The memory of a partition that drives the device. With the IOMMU translating, the device is
     * given to the partition (its IOMMU context is the partition's p2m) and told guest-physical
     * addresses; otherwise the partition tells machine addresses, as a paravirtual dom0 does.
     */
    protected DomainMemory partitionMemory(Hypervisor hypervisor, Domain partition, MachineConfig config) {
        if (config.iommuTranslates()) {
            hypervisor.assignDevice(Machine.BLOCK_DEVICE_ID, partition);
            return new DomainMemory(partition, machine.memory());
        }
        return new DomainMemory(partition, machine.memory(), hypervisor);
    }

    /** The FIFO event layout's hypervisor side, or {@code null} with two-level events. */
    FifoEvents fifoEvents() {
        return fifoEvents;
    }

    @Override
    public Placement placement() {
        return placement;
    }

    @Override
    public Machine machine() {
        return machine;
    }

    @Override
    public Cpu cpu() {
        return cpu;
    }

    @Override
    public App app() {
        return app;
    }

    @Override
    public Agent[] parties() {
        return parties;
    }

    @Override
    public Cpu[] cpus() {
        return cpus.clone();
    }

    @Override
    public long modelledPicos() {
        long picos = machine.devicePicos();
        for (Cpu c : cpus) {
            picos += c.clock().picos();
        }
        return picos;
    }

    @Override
    public long modelledPicos(CostPart part) {
        long picos = machine.devicePicos(part);
        for (Cpu c : cpus) {
            picos += c.clock().picos(part);
        }
        return picos;
    }

    @Override
    public long crossings() {
        long total = 0;
        for (Cpu c : cpus) {
            total += c.trace().total();
        }
        return total;
    }

    @Override
    public void close() {
        machine.close();
    }

    /** A CPU's interrupt delivery as a party: takes pending vectors and runs their handlers. */
    static final class InterruptDelivery implements Agent {
        private final Cpu cpu;

        InterruptDelivery(Cpu cpu) {
            this.cpu = cpu;
        }

        @Override
        public int doWork() {
            return cpu.deliverInterrupts();
        }

        @Override
        public String roleName() {
            return cpu.name() + "-interrupts";
        }
    }
}
