package org.hvbench.core.evtchn;

import org.hvbench.core.cpu.Cpu;

/**
 * What a kernel's drivers do with its event channels, whichever layout delivers them: bind a handler
 * to a port, send on a port. {@link EventDispatcher} (two-level) and {@link FifoDispatcher} (FIFO).
 */
public interface EventPorts {
    /** Binds a handler to a local port (set-up). */
    void bind(int port, EventDispatcher.PortHandler handler);

    /** Sends an event on a local port (a hypercall); returns its result. */
    long send(Cpu cpu, int port);

    /** Unmasks a local port (a hypercall), raising an event that waited behind the mask. */
    long unmask(Cpu cpu, int port);
}
