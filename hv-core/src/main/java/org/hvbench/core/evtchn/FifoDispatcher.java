package org.hvbench.core.evtchn;

import static org.hvbench.core.evtchn.FifoLayout.BUSY;
import static org.hvbench.core.evtchn.FifoLayout.LINKED;
import static org.hvbench.core.evtchn.FifoLayout.LINK_MASK;
import static org.hvbench.core.evtchn.FifoLayout.MASKED;
import static org.hvbench.core.evtchn.FifoLayout.PENDING;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VirtualInterruptHandler;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * A kernel's event upcall for the FIFO layout ({@link FifoLayout}), the counterpart of
 * {@link EventDispatcher}: registered as its domain's virtual-interrupt entry, it takes the READY
 * word with an exchange, and from the highest-priority ready queue takes the head port: one
 * compare-and-set clears LINKED and LINK (and PENDING, unless masked) and yields the next port. It
 * runs the port's handler when the port was pending and not masked. Before it leaves, it reads READY
 * again: a queue that got a head meanwhile was given a bit there, and only a zero READY lets the
 * hypervisor's next link notify.
 *
 * <p>The kernel keeps its own head per queue and reads HEAD from the control block only when its own
 * is 0, because the hypervisor writes HEAD only when it starts a chain after the old one was taken.
 * A HEAD that is stale (a port already taken, or claimed but not on the queue yet: BUSY) ends the
 * queue quietly; a LINK to a port that is not linked is corruption ({@code -ELOOP}), a port out of
 * range too ({@code -EINVAL}). Each port looked at counts towards {@code maxEvents}, the bound on
 * work per upcall: what is left goes back into READY and the upcall is re-raised.
 */
public final class FifoDispatcher implements VirtualInterruptHandler, EventPorts {
    private final Hypervisor hv;
    private final Domain domain;
    private final MachineMemory memory;
    private final Translator translator;
    private final long controlGpa;
    private final long arrayGpa;
    private final int ports;
    private final int maxEvents;
    private final EventDispatcher.PortHandler[] handlers;
    private final int[] heads = new int[FifoLayout.PRIORITIES];
    private long events;
    private long spurious;
    private long maskedSkipped;
    private long stale;
    private long corrupt;
    private long deferred;

    /**
     * @param hv for the unmask and priority hypercalls; {@code null} for a kernel tested alone
     * @param domain whose upcall is re-raised when the work bound is hit; {@code null} likewise
     * @param controlGpa the control block as the kernel sees it; the event array is at {@code arrayGpa}
     * @param ports the event array's length in words
     * @param maxEvents ports looked at per upcall at most
     */
    public FifoDispatcher(Hypervisor hv, Domain domain, MachineMemory memory, Translator translator, long controlGpa,
                          long arrayGpa, int ports, int maxEvents) {
        if (ports < 2 || ports > FifoLayout.MAX_PORTS || maxEvents < 1) {
            throw new IllegalArgumentException("FIFO ports must be 2.." + FifoLayout.MAX_PORTS + " and maxEvents >= 1; got "
                + ports + ", " + maxEvents);
        }
        this.hv = hv;
        this.domain = domain;
        this.memory = memory;
        this.translator = translator;
        this.controlGpa = controlGpa;
        this.arrayGpa = arrayGpa;
        this.ports = ports;
        this.maxEvents = maxEvents;
        this.handlers = new EventDispatcher.PortHandler[ports];
    }

    /** A dispatcher for {@code domain} after its {@code EVTCHN_INIT_CONTROL} at {@code controlGpa}. */
    public static FifoDispatcher forDomain(Hypervisor hv, Domain domain, Translator translator, long controlGpa,
                                           int maxEvents) {
        return new FifoDispatcher(hv, domain, hv.machine().memory(), translator, controlGpa,
            controlGpa + MachineMemory.PAGE_SIZE, FifoLayout.PORTS_PER_PAGE, maxEvents);
    }

    @Override
    public void bind(int port, EventDispatcher.PortHandler handler) {
        if (port <= 0 || port >= ports) {
            throw new IllegalArgumentException("event port must be 1.." + (ports - 1) + "; got " + port);
        }
        handlers[port] = handler;
    }

    @Override
    public void onVirq(Cpu cpu) {
        consume(cpu);
    }

    /**
     * One upcall's work.
     *
     * @return handlers run, or a negative errno when it met a corrupt queue ({@code -ELOOP},
     *     {@code -EINVAL}) or its pages are not mapped ({@code -EFAULT}); what it could run, it ran
     */
    public int consume(Cpu cpu) {
        long control = translator.translate(controlGpa, Translation.READ | Translation.WRITE);
        long array = translator.translate(arrayGpa, Translation.READ | Translation.WRITE);
        if (control < 0 || array < 0) {
            return -Errno.EFAULT;
        }
        long readyMa = control + FifoLayout.READY;
        int ready = 0;
        int ran = 0;
        int error = 0;
        for (int budget = maxEvents; ; ) {
            // A read first: the exchange (a full fence) only when the hypervisor set a bit.
            if (memory.getIntVolatile(readyMa) != 0) {
                ready |= Atomics.getAndSetInt(memory, readyMa, 0);
            }
            ready &= (1 << FifoLayout.PRIORITIES) - 1;
            if (ready == 0) {
                return error < 0 ? error : ran;
            }
            if (budget == 0) {
                // Out of work for this upcall: the bits go back and the upcall is re-raised, to run
                // after what it interrupted (XSA-391). Always: a link that found READY empty meanwhile
                // notified a domain that was in its upcall, which only marks the interrupt pending.
                FifoLayout.getAndOrInt(memory, readyMa, ready);
                if (hv != null) {
                    hv.deferUpcall(cpu, domain);
                } else if (domain != null) {
                    domain.markVirqPending();
                }
                deferred++;
                return error < 0 ? error : ran;
            }
            budget--;
            int q = Integer.numberOfTrailingZeros(ready);
            int port = heads[q];
            boolean fromHead = port == 0;
            if (fromHead) {
                port = memory.getIntAcquire(FifoLayout.head(control, q));
            }
            if (port <= 0 || port >= ports) {
                corrupt++;
                error = -Errno.EINVAL;
                heads[q] = 0;
                ready &= ~(1 << q);
                continue;
            }
            int old = take(FifoLayout.word(array, port));
            if ((old & (LINKED | BUSY)) != LINKED) {
                // From HEAD: a chain already taken, or a port not on the queue yet. From a LINK:
                // only a corrupt queue points at a port that is not linked (a loop, a stray link).
                if (fromHead) {
                    stale++;
                } else {
                    corrupt++;
                    error = -Errno.ELOOP;
                }
                heads[q] = 0;
                ready &= ~(1 << q);
                continue;
            }
            int next = old & LINK_MASK;
            if (next >= ports) {
                corrupt++;
                error = -Errno.EINVAL;
                next = 0;
            }
            heads[q] = next;
            if (next == 0) {
                ready &= ~(1 << q);
            }
            if ((old & (PENDING | MASKED)) == PENDING) {
                EventDispatcher.PortHandler h = handlers[port];
                if (h == null) {
                    spurious++;
                } else {
                    events++;
                    ran++;
                    EventDispatcher.inKernel(cpu, domain);
                    h.onEvent(cpu, port);
                }
            } else if ((old & MASKED) != 0) {
                maskedSkipped++;
            }
        }
    }

    /**
     * Takes a port off its queue: clears LINKED and LINK, and PENDING unless masked (a masked event
     * stays pending for the unmask), in one compare-and-set. Leaves a port that is not linked, or is
     * BUSY, as it is. Returns the word before, or 0 when it had to give up.
     */
    private int take(long ma) {
        for (int i = 0; i < Atomics.TRIES; i++) {
            int w = memory.getIntVolatile(ma);
            if ((w & (LINKED | BUSY)) != LINKED) {
                return w;
            }
            int update = w & ~(LINKED | LINK_MASK);
            if ((w & MASKED) == 0) {
                update &= ~PENDING;
            }
            if (memory.compareAndSetInt(ma, w, update)) {
                return w;
            }
        }
        return 0;
    }

    private long arrayMa() {
        return translator.translate(arrayGpa, Translation.READ | Translation.WRITE);
    }

    /**
     * Masks a port: its events stay pending and are not queued.
     *
     * @return 0, {@code -EINVAL} for a port out of range, {@code -EFAULT} when the array is unmapped
     */
    public int mask(int port) {
        if (port <= 0 || port >= ports) {
            return -Errno.EINVAL;
        }
        long array = arrayMa();
        if (array < 0) {
            return -Errno.EFAULT;
        }
        FifoLayout.getAndOrInt(memory, FifoLayout.word(array, port), MASKED);
        return 0;
    }

    /**
     * Clears a port's mask without the hypervisor when no event is pending (compare-and-set on the
     * whole word: a send that sets PENDING in between makes it fail and look again).
     *
     * @return true when the port is unmasked; false when an event is pending and the hypervisor must
     *     link it ({@code EVTCHN_UNMASK})
     */
    public boolean unmaskLocally(int port) {
        long array = arrayMa();
        if (port <= 0 || port >= ports || array < 0) {
            return false; // the hypervisor judges it
        }
        long ma = FifoLayout.word(array, port);
        for (int i = 0; i < Atomics.TRIES; i++) {
            int w = memory.getIntVolatile(ma);
            if ((w & MASKED) == 0) {
                return true;
            }
            if ((w & PENDING) != 0) {
                return false;
            }
            if (memory.compareAndSetInt(ma, w, w & ~MASKED)) {
                return true;
            }
        }
        return false;
    }

    /** Unmasks a port: locally when nothing is pending, else through the hypervisor, which links it. */
    @Override
    public long unmask(Cpu cpu, int port) {
        if (unmaskLocally(port)) {
            return 0;
        }
        return hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_UNMASK, port, 0, 0);
    }

    /** Sets a local port's priority (0 highest, {@link FifoLayout#PRIORITIES} queues). */
    public long setPriority(Cpu cpu, int port, int priority) {
        return hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SET_PRIORITY, port, priority, 0);
    }

    /** Sends an event on a local port (a hypercall). */
    @Override
    public long send(Cpu cpu, int port) {
        return hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, port, 0, 0);
    }

    /** Handlers run. */
    public long events() {
        return events;
    }

    /** Pending ports taken with no handler bound. */
    public long spurious() {
        return spurious;
    }

    /** Ports taken off a queue while masked: they stay pending for the unmask. */
    public long maskedSkipped() {
        return maskedSkipped;
    }

    /** Heads that were already taken (or not yet queued): harmless. */
    public long stale() {
        return stale;
    }

    /** Links or heads out of range, or links to ports that were not linked. */
    public long corrupt() {
        return corrupt;
    }

    /** Upcalls that hit the work bound and left events for the next entry. */
    public long deferred() {
        return deferred;
    }
}
