package org.hvbench.core.arch;

import org.agrona.concurrent.Agent;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.guest.App;

/** What every placement has: the machine, the app's CPU, the app, and the parties to run. */
abstract class BasePlacement implements IoPath {
    /** Interrupt vector of the block device (the first one x86 leaves to devices). */
    static final int BLOCK_VECTOR = 32;

    private final Placement placement;
    protected final Machine machine;
    protected final Cpu cpu;
    private App app;
    private Agent[] parties;

    BasePlacement(Placement placement, Machine machine) {
        this.placement = placement;
        this.machine = machine;
        this.cpu = machine.newCpu("cpu0");
    }

    /** Ends the boot: the app runs, and nothing done so far counts. */
    protected final void booted(App bootedApp) {
        this.app = bootedApp;
        this.parties = new Agent[] {machine.device(), new InterruptDelivery(cpu)};
        cpu.start(bootedApp.kernel().appContext());
        cpu.trace().reset();
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
    public long modelledPicos() {
        return cpu.clock().picos() + machine.device().clock().picos();
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
