package org.hvbench.core.arch;

import org.agrona.concurrent.Agent;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.guest.App;

/**
 * One driver placement, built and booted: an application that issues I/O, the software between it
 * and the device, and the device. An executor runs it: the app's CPU submits, and the
 * {@link #parties} (the device, interrupt delivery) run until the completions come back.
 */
public interface IoPath extends AutoCloseable {
    Placement placement();

    Machine machine();

    /** The CPU the application runs on (in the inline executor, the only one). */
    Cpu cpu();

    /** Every CPU of the machine, the application's first; more than one with {@link CpuLayout#CPU_PER_DOMAIN}. */
    Cpu[] cpus();

    App app();

    /** What must run besides the application for an I/O to complete. */
    Agent[] parties();

    /** Modelled time of all work so far (every CPU and the device), picoseconds. */
    long modelledPicos();

    /**
     * The part of {@link #modelledPicos} charged to {@code part}, picoseconds; the parts over every
     * {@link CostPart} add up to it.
     */
    long modelledPicos(CostPart part);

    /**
     * Notifications sent between domains so far (event-channel sends); 0 for placements without
     * them. Batching shows here: one notification can carry many requests.
     */
    default long notifications() {
        return 0;
    }

    /** Crossings so far on every CPU of the machine (with one CPU, {@code trace().total()}). */
    long crossings();

    default CrossingTrace trace() {
        return cpu().trace();
    }

    /** Frees the machine. */
    @Override
    void close();
}
