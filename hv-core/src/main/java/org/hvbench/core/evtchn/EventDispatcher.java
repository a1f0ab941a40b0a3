package org.hvbench.core.evtchn;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VirtualInterruptHandler;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * A kernel's event upcall: registered as its domain's virtual-interrupt entry, it scans the
 * shared-info bitmaps through the kernel's own translation and runs the handler bound to each
 * pending, unmasked port. It clears upcall_pending before it scans and takes the selector with one
 * exchange, so an event that arrives during the scan is seen by another round instead of being lost;
 * unmasking goes through the hypervisor, which re-raises an event that became pending behind the mask.
 */
public final class EventDispatcher implements VirtualInterruptHandler, EventPorts {
    /** A port's handler, in the kernel. */
    @FunctionalInterface
    public interface PortHandler {
        void onEvent(Cpu cpu, int port);
    }

    private final Hypervisor hv;
    private final Domain domain;
    private final MachineMemory memory;
    private final Translator translator;
    private final long sharedInfoGpa;
    private final PortHandler[] handlers = new PortHandler[EventChannels.PORTS];
    private final int maxRounds;
    private long events;
    private long spurious;
    private long deferred;

    /**
     * @param maxRounds selector rounds per upcall: the bound on work per upcall, so a peer that
     *     sends without pause cannot keep the kernel in its upcall forever
     */
    public EventDispatcher(Hypervisor hv, Domain domain, MachineMemory memory, Translator translator, long sharedInfoGpa,
                           int maxRounds) {
        this.hv = hv;
        this.domain = domain;
        this.memory = memory;
        this.translator = translator;
        this.sharedInfoGpa = sharedInfoGpa;
        this.maxRounds = maxRounds;
    }

    @Override
    public void bind(int port, PortHandler handler) {
        if (port <= 0 || port >= EventChannels.PORTS) {
            throw new IllegalArgumentException("event port must be 1.." + (EventChannels.PORTS - 1) + "; got " + port);
        }
        handlers[port] = handler;
    }

    @Override
    public void onVirq(Cpu cpu) {
        long base = translator.translate(sharedInfoGpa, Translation.READ | Translation.WRITE);
        if (base < 0) {
            return;
        }
        for (int round = 0; round < maxRounds; round++) {
            // Clear upcall_pending first: a send after this point raises it again.
            memory.putIntVolatile(base + SharedInfo.UPCALL_PENDING, 0);
            long selector = Atomics.getAndSet(memory, base + SharedInfo.PENDING_SEL, 0);
            if (selector == 0) {
                return;
            }
            if (round == maxRounds - 1) {
                // Out of rounds: give the selector back and take the rest on the next entry, which the
                // hypervisor makes after what the upcall interrupted has run (XSA-391).
                Atomics.getAndOr(memory, base + SharedInfo.PENDING_SEL, selector);
                memory.putIntVolatile(base + SharedInfo.UPCALL_PENDING, 1);
                if (hv != null) {
                    hv.deferUpcall(cpu, domain);
                } else if (domain != null) {
                    domain.markVirqPending();
                }
                deferred++;
                return;
            }
            while (selector != 0) {
                int word = Long.numberOfTrailingZeros(selector);
                selector &= selector - 1;
                long pendingMa = base + SharedInfo.PENDING + 8L * word;
                long ready = memory.getLongVolatile(pendingMa) & ~memory.getLongVolatile(base + SharedInfo.MASK + 8L * word);
                while (ready != 0) {
                    int bit = Long.numberOfTrailingZeros(ready);
                    ready &= ready - 1;
                    int port = word * 64 + bit;
                    Atomics.getAndClear(memory, pendingMa, 1L << bit);
                    PortHandler h = port < handlers.length ? handlers[port] : null;
                    if (h == null) {
                        spurious++;
                    } else {
                        events++;
                        inKernel(cpu, domain);
                        h.onEvent(cpu, port);
                    }
                }
            }
        }
    }

    /**
     * Before a handler runs: an earlier handler of the same upcall may have signalled the app (an
     * UPCALL leaves the CPU in the app); the kernel takes its next event once the app has returned,
     * or the handler would run, and make its hypercalls, at user level.
     */
    static void inKernel(Cpu cpu, Domain domain) {
        if (domain != null && cpu.current() != domain.kernel()) {
            cpu.idleSwitch(domain.kernel());
        }
    }

    /** Masks a port: its events stay pending without an upcall. */
    public void mask(int port) {
        long base = translator.translate(sharedInfoGpa, Translation.READ | Translation.WRITE);
        Atomics.getAndOr(memory, base + SharedInfo.MASK + 8L * (port >>> 6), SharedInfo.bit(port));
    }

    /** Unmasks a port through the hypervisor, which re-raises an event that arrived while masked. */
    @Override
    public long unmask(Cpu cpu, int port) {
        return hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_UNMASK, port, 0, 0);
    }

    /** Sends an event on a local port (a hypercall). */
    @Override
    public long send(Cpu cpu, int port) {
        return hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0, 0);
    }

    public long events() {
        return events;
    }

    public long spurious() {
        return spurious;
    }

    /** Upcalls that ran out of rounds and left events for the next entry. */
    public long deferred() {
        return deferred;
    }
}
