package org.hvbench.core.evtchn;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Bindings;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.HypercallHandler;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;

/**
 * Event channels, two-level layout ({@code EVENT_CHANNEL_OP}): ports that connect two domains, or a
 * physical interrupt to the domain that owns the device. A send sets the peer's pending bit; if it
 * was already set the event coalesces; if the port is masked it waits; otherwise the selector bit and
 * upcall_pending are set and, only when upcall_pending was clear, the peer's vCPU is kicked
 * ({@link Hypervisor#notify}). See {@link SharedInfo} for the layout and the order.
 *
 * <pre>
 * a0 = EVTCHN_ALLOC_UNBOUND:    a1 = the domain that may bind it           -> port
 * a0 = EVTCHN_BIND_INTERDOMAIN: a1 = remote domain, a2 = its unbound port  -> local port
 * a0 = EVTCHN_SEND:             a1 = local port                            -> 0 (-ENOTCONN: no other end)
 * a0 = EVTCHN_CLOSE:            a1 = local port                            -> 0
 * a0 = EVTCHN_UNMASK:           a1 = local port                            -> 0 (re-raises a pending event)
 * a0 = EVTCHN_INIT_CONTROL, EVTCHN_SET_PRIORITY: FIFO events, see {@link FifoEvents} (-ENOSYS without)
 * </pre>
 *
 * Binding two domains asks the access-control module first. Port 0 is never handed out. A domain
 * that has set up FIFO control gets its deliveries and unmasks through {@link FifoEvents} instead.
 *
 * <p>When a domain is destroyed its ports are closed: the other end of each of its interdomain
 * channels becomes unbound, and a send there gets {@code -ENOTCONN} (Xen drops such a send
 * silently; an errno lets a front end see that its back end went). Its physical interrupts lose
 * their handlers, and nothing is delivered to it any more.
 */
public final class EventChannels implements HypercallHandler, Bindings {
    public static final int PORTS = 1024;
    private static final int FREE = 0;
    private static final int UNBOUND = 1;
    private static final int INTERDOMAIN = 2;
    /** The remote domain of a port whose binding a policy change revoked. */
    private static final int NOBODY = -1;
    private static final int PIRQ = 3;

    private final Hypervisor hv;
    private final MachineMemory memory;
    private final int[][] state = new int[Hypervisor.MAX_DOMAINS][];
    private final int[][] remoteDomain = new int[Hypervisor.MAX_DOMAINS][];
    private final int[][] remotePort = new int[Hypervisor.MAX_DOMAINS][];

    // Counters per CPU, so each has one writer (the thread of that CPU); a CPU's row is a 64-byte
    // line of its own, so CPUs on different threads do not share a cache line.
    private static final int SENDS = 0;
    private static final int DELIVERED = 1;
    private static final int COALESCED = 2;
    private static final int MASKED = 3;
    private static final int KICKS = 4;
    private static final int ROW = 8;
    private final long[] counts = new long[Hypervisor.MAX_CPUS * ROW];
    private FifoEvents fifo;
    /** Physical interrupts routed to a domain's port, so they can be unrouted when it is destroyed. */
    private final List<PhysicalIrq> physicalIrqs = new ArrayList<>();

    private record PhysicalIrq(int owner, Cpu cpu, int vector) {
    }

    /** Registers the event-channel hypercall with {@code hv}. */
    public EventChannels(Hypervisor hv) {
        this.hv = hv;
        this.memory = hv.machine().memory();
        hv.registerHypercall(Hypercall.EVENT_CHANNEL_OP, this);
        hv.addTeardown(this::release);
        hv.addBindings(this);
    }

    /** {@code dying} is being destroyed (Xen's {@code evtchn_destroy}): every port of it is closed. */
    private void release(Domain dying) {
        int[] s = state[dying.id()];
        if (s != null) {
            for (int p = 1; p < PORTS; p++) {
                if (s[p] != FREE) {
                    close(dying, p);
                }
            }
            state[dying.id()] = null;
            remoteDomain[dying.id()] = null;
            remotePort[dying.id()] = null;
        }
        for (int i = physicalIrqs.size() - 1; i >= 0; i--) {
            PhysicalIrq irq = physicalIrqs.get(i);
            if (irq.owner() == dying.id()) {
                irq.cpu().interrupts().unregister(irq.vector());
                physicalIrqs.remove(i);
            }
        }
        if (fifo != null) {
            fifo.release(dying);
        }
    }

    @Override
    public long call(Cpu cpu, Domain caller, long cmd, long a1, long a2, long a3) {
        if (cmd == Hypercall.EVTCHN_SEND) {
            return send(cpu, caller, a1);
        }
        switch ((int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, cmd))) {
            case Hypercall.EVTCHN_ALLOC_UNBOUND:
                return allocUnbound(caller, a1);
            case Hypercall.EVTCHN_BIND_INTERDOMAIN:
                return bindInterdomain(caller, a1, a2);
            case Hypercall.EVTCHN_CLOSE:
                return close(caller, a1);
            case Hypercall.EVTCHN_UNMASK:
                return unmask(cpu, caller, a1);
            case Hypercall.EVTCHN_INIT_CONTROL:
                return fifo == null ? -Errno.ENOSYS : fifo.initControl(caller, a1);
            case Hypercall.EVTCHN_SET_PRIORITY:
                return fifo == null ? -Errno.ENOSYS : fifo.setPriority(caller, a1, a2);
            default:
                return -Errno.EINVAL;
        }
    }

    private int[] ports(Domain d) {
        if (state[d.id()] == null) {
            state[d.id()] = new int[PORTS];
            remoteDomain[d.id()] = new int[PORTS];
            remotePort[d.id()] = new int[PORTS];
        }
        return state[d.id()];
    }

    private int freePort(Domain d) {
        int[] s = ports(d);
        for (int p = 1; p < PORTS; p++) {
            if (s[p] == FREE) {
                return p;
            }
        }
        return -Errno.ENOSPC;
    }

    private static boolean valid(long port) {
        return port > 0 && port < PORTS;
    }

    private long allocUnbound(Domain caller, long remote) {
        Domain r = remote >= 0 && remote < Hypervisor.MAX_DOMAINS ? hv.domain((int) remote) : null;
        if (r == null) {
            return -Errno.ENOENT;
        }
        int verdict = hv.accessControl().eventChannelAllocUnbound(caller, r);
        if (verdict < 0) {
            return verdict;
        }
        int port = freePort(caller);
        if (port < 0) {
            return port;
        }
        state[caller.id()][port] = UNBOUND;
        remoteDomain[caller.id()][port] = r.id();
        remotePort[caller.id()][port] = 0;
        return port;
    }

    private long bindInterdomain(Domain caller, long remote, long port) {
        Domain r = remote >= 0 && remote < Hypervisor.MAX_DOMAINS ? hv.domain((int) remote) : null;
        if (r == null || r == caller || !valid(port)) {
            return -Errno.EINVAL;
        }
        int[] rs = ports(r);
        int rp = (int) port;
        if (rs[rp] != UNBOUND || remoteDomain[r.id()][rp] != caller.id()) {
            return -Errno.EINVAL;
        }
        int verdict = hv.accessControl().eventChannelBind(caller, r);
        if (verdict < 0) {
            return verdict;
        }
        int local = freePort(caller);
        if (local < 0) {
            return local;
        }
        state[caller.id()][local] = INTERDOMAIN;
        remoteDomain[caller.id()][local] = r.id();
        remotePort[caller.id()][local] = rp;
        rs[rp] = INTERDOMAIN;
        remotePort[r.id()][rp] = local;
        return local;
    }

    private long close(Domain caller, long port) {
        if (!valid(port) || ports(caller)[(int) port] == FREE) {
            return -Errno.EINVAL;
        }
        int p = (int) port;
        if (state[caller.id()][p] == INTERDOMAIN) {
            int r = remoteDomain[caller.id()][p];
            int rp = remotePort[caller.id()][p];
            if (state[r] != null && state[r][rp] == INTERDOMAIN && remotePort[r][rp] == p) {
                state[r][rp] = UNBOUND;
                remoteDomain[r][rp] = caller.id();
            }
        }
        state[caller.id()][p] = FREE;
        return 0;
    }

    private long send(Cpu cpu, Domain caller, long port) {
        if (!valid(port)) {
            return -Errno.EINVAL;
        }
        int kind = ports(caller)[(int) port];
        if (kind != INTERDOMAIN) {
            return kind == UNBOUND ? -Errno.ENOTCONN : -Errno.EINVAL;
        }
        counts[cpu.id() * ROW + SENDS]++;
        Domain target = hv.domain(remoteDomain[caller.id()][(int) port]);
        if (target == null) {
            return -Errno.ENOENT;
        }
        deliver(cpu, target, remotePort[caller.id()][(int) port], "the hypervisor passes the event on to the other end");
        return 0;
    }

    /**
     * Sets {@code port} pending in {@code target}'s shared info and kicks its vCPU when the upcall
     * was not already pending. Callable by the hypervisor from any path (a send, a device interrupt).
     */
    public void deliver(Cpu cpu, Domain target, int port, String what) {
        if (target.destroyed()) {
            // Its shared-info frame is free memory now, maybe another domain's: nothing may be written there.
            return;
        }
        if (fifo != null && fifo.enabled(target)) {
            fifo.deliver(cpu, target, port, what);
            return;
        }
        int r = TwoLevelEvents.setPending(memory, target.sharedInfoMa(), port);
        if (r == TwoLevelEvents.NONE) {
            counts[cpu.id() * ROW + COALESCED]++;
        } else if (r == TwoLevelEvents.MASKED) {
            counts[cpu.id() * ROW + MASKED]++;
        } else {
            raised(cpu, target, r, what);
        }
    }

    private void raised(Cpu cpu, Domain target, int r, String what) {
        counts[cpu.id() * ROW + DELIVERED]++;
        if (r == TwoLevelEvents.KICK) {
            counts[cpu.id() * ROW + KICKS]++;
            hv.notify(cpu, target, what);
        }
    }

    /** Clears the mask bit and, if the port is pending meanwhile, raises the upcall it missed. */
    private long unmask(Cpu cpu, Domain caller, long port) {
        if (!valid(port)) {
            return -Errno.EINVAL;
        }
        if (fifo != null && fifo.enabled(caller)) {
            return fifo.unmask(cpu, caller, port);
        }
        int r = TwoLevelEvents.unmask(memory, caller.sharedInfoMa(), (int) port);
        if (r != TwoLevelEvents.NONE) {
            raised(cpu, caller, r, "an event that waited behind a mask");
        }
        return 0;
    }

    /** Set-up, by {@link FifoEvents}: deliveries and unmasks of its domains go through it. */
    void useFifo(FifoEvents fifo) {
        if (this.fifo != null) {
            throw new IllegalStateException("FIFO events are set up already");
        }
        this.fifo = fifo;
    }

    /**
     * Routes a physical interrupt vector of {@code cpu} to an event port of {@code owner}, the domain
     * that drives the device: the hypervisor takes the interrupt (DEVICE_IRQ) and delivers the event.
     *
     * @return the port in {@code owner}
     */
    public int bindPhysicalIrq(Cpu cpu, int vector, Domain owner) {
        int port = freePort(owner);
        if (port < 0) {
            throw new IllegalStateException("no free event port in " + owner);
        }
        state[owner.id()][port] = PIRQ;
        physicalIrqs.add(new PhysicalIrq(owner.id(), cpu, vector));
        cpu.interrupts().register(vector, (c, v) -> {
            c.takeInterrupt(hv.deviceContext(), hv.context(c), "the device interrupts the hypervisor: I/O done");
            deliver(c, owner, port, "the hypervisor passes the device's interrupt to the partition kernel");
        });
        return port;
    }

    /**
     * A port of {@code owner} that only the hypervisor raises (with {@link #deliver}), as for an I/O
     * request forwarded to an emulator.
     */
    public int bindHypervisorEvent(Domain owner) {
        int port = freePort(owner);
        if (port < 0) {
            throw new IllegalStateException("no free event port in " + owner);
        }
        state[owner.id()][port] = PIRQ;
        return port;
    }

    /** A counter summed over CPUs (plain reads: exact once the CPUs' threads are quiet). */
    private long sum(int counter) {
        long total = 0;
        for (int i = counter; i < counts.length; i += ROW) {
            total += counts[i];
        }
        return total;
    }

    /** Event sends made by domains. */
    /** True when {@code port} of {@code d} is open: unbound, bound to another domain, or a physical interrupt. */
    public boolean isOpen(Domain d, int port) {
        int[] s = state[d.id()];
        return s != null && valid(port) && s[port] != FREE;
    }

    /**
     * Open ports of live domains whose other end is (or was) domain {@code domid}: bound to it, or left
     * unbound when it closed its end or was destroyed. For tests: 0 once every peer of a destroyed
     * domain has closed its end.
     */
    public int portsNaming(int domid) {
        int n = 0;
        for (int d = 0; d < Hypervisor.MAX_DOMAINS; d++) {
            int[] s = state[d];
            if (s == null || d == domid || hv.domain(d) == null) {
                continue;
            }
            for (int p = 1; p < PORTS; p++) {
                n += (s[p] == UNBOUND || s[p] == INTERDOMAIN) && remoteDomain[d][p] == domid ? 1 : 0;
            }
        }
        return n;
    }

    /** True when a port of {@code a} is bound to, or left unbound for, {@code b}: the toolstack's view of a channel between them. */
    public boolean boundBetween(Domain a, Domain b) {
        int[] s = state[a.id()];
        if (s == null) {
            return false;
        }
        for (int p = 1; p < PORTS; p++) {
            if ((s[p] == UNBOUND || s[p] == INTERDOMAIN) && remoteDomain[a.id()][p] == b.id()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String kind() {
        return "event channel";
    }

    /** Every open port, unbound or bound, that names another live domain: one binding per port. */
    @Override
    public void forEach(Visitor v) {
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            int[] s = state[id];
            Domain a = s == null ? null : hv.domain(id);
            for (int p = 1; a != null && p < PORTS; p++) {
                if (s[p] == UNBOUND || s[p] == INTERDOMAIN) {
                    int r = remoteDomain[id][p];
                    Domain b = r == id || r < 0 ? null : hv.domain(r);
                    if (b != null) {
                        v.binding(a, b);
                    }
                }
            }
        }
    }

    /**
     * Every port of {@code a} naming {@code b}, and of {@code b} naming {@code a}, becomes unbound to
     * nobody: a send on it gets {@code -ENOTCONN}, no domain can bind it, and its owner still closes
     * it itself (so a stale close never frees a port handed out again).
     */
    @Override
    public int revoke(Domain a, Domain b) {
        return cut(a, b) + cut(b, a);
    }

    private int cut(Domain from, Domain to) {
        int[] s = state[from.id()];
        int n = 0;
        for (int p = 1; s != null && p < PORTS; p++) {
            if ((s[p] == UNBOUND || s[p] == INTERDOMAIN) && remoteDomain[from.id()][p] == to.id()) {
                s[p] = UNBOUND;
                remoteDomain[from.id()][p] = NOBODY;
                remotePort[from.id()][p] = 0;
                n++;
            }
        }
        return n;
    }

    public long sends() {
        return sum(SENDS);
    }

    /** Events that raised an upcall (not coalesced, not masked). */
    public long delivered() {
        return sum(DELIVERED);
    }

    /** Events whose port was already pending. */
    public long coalesced() {
        return sum(COALESCED);
    }

    public long masked() {
        return sum(MASKED);
    }

    /** vCPU kicks: upcalls that were not already pending. */
    public long kicks() {
        return sum(KICKS);
    }
}
