package org.hvbench.core.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.hvbench.core.Errno;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageWalker;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * One CPU. It knows which {@link Context} runs, performs every transfer of control (a crossing)
 * as real work, and translates every data-path access through its TLB and, on a miss, the page walker.
 *
 * <p>A crossing saves the live register file into the leaving context's save area and restores the
 * entering one's (two 256-byte off-heap copies), switches the current address space when it changes,
 * which flushes an untagged TLB so that later accesses miss and walk, records the crossing, and
 * advances the virtual clock by the {@link CostProfile}'s cost. Nothing sleeps or spins.
 *
 * <p>Single-owner: one thread drives a CPU. Devices and other CPUs reach it only through its
 * {@link InterruptController}, its {@link Sleeper} and {@link #requestTlbFlush}, which are thread-safe.
 */
public final class Cpu {
    private static final VarHandle FLUSH_REQUESTED;

    static {
        try {
            FLUSH_REQUESTED = MethodHandles.lookup().findVarHandle(Cpu.class, "flushRequested", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Told of each piece of charged work (a translation, a copy, a flush) and each entry into a
     * context, which context it is: how a test finds which classes run in which context (the
     * trusted-base count). Null except in such a test, which sets it before the machine runs, on the
     * thread that runs it (a plain field: one null check on the paths that charge work).
     */
    public interface WorkProbe {
        /** {@code context} does charged work now. */
        void running(Context context);

        /**
         * The CPU is about to switch to {@code context}: a new entry into it ({@code entry}: a system
         * call, hypercall, VM exit, event, upcall or interrupt, whose handler runs nested) or a return
         * to where it left off (a system-call return, a VM entry, an idle switch).
         */
        void entering(Context context, boolean entry);
    }

    private static WorkProbe probe;

    /** Sets (or with null clears) the {@link WorkProbe}; tests only. */
    public static void setWorkProbe(WorkProbe p) {
        probe = p;
    }

    private final int id;
    private final String name;
    private final MachineMemory memory;
    private final Tlb tlb;
    private final CostProfile profile;
    private final CrossingTrace trace;
    private final VirtualClock clock = new VirtualClock();
    private final InterruptController interrupts = new InterruptController();
    private final UnsafeBuffer liveRegisters = new UnsafeBuffer(BufferUtil.allocateDirectAligned(Context.SAVE_AREA_BYTES, 64));
    private final Sleeper sleeper = new Sleeper(this::hasWork);
    @SuppressWarnings("unused") // accessed through FLUSH_REQUESTED
    private volatile int flushRequested;
    private volatile Thread owner;
    private long remoteFlushes;

    private Context current;
    private AddressSpace currentSpace;
    private Context originator;
    private boolean delivered;
    private long walks;
    private long walkLevels;
    private long faults;
    private long bytesCopied;
    /** Where work other than crossings is charged while a subsystem runs ({@link #chargeWorkTo}); null: its own part. */
    private CostPart workPart;

    public Cpu(int id, String name, MachineMemory memory, Tlb tlb, CostProfile profile, CrossingTrace trace) {
        this.id = id;
        this.name = name;
        this.memory = memory;
        this.tlb = tlb;
        this.profile = profile;
        this.trace = trace;
    }

    /**
     * Starts running {@code context} (boot, or handing the CPU to a party in set-up): its registers
     * are loaded, the current ones are dropped, and no crossing is counted.
     */
    public void start(Context context) {
        liveRegisters.putBytes(0, context.saveArea(), 0, Context.SAVE_AREA_BYTES);
        current = context;
        if (context.space() != null) {
            currentSpace = context.space();
        }
    }

    /**
     * Names the context whose I/O this CPU is carrying (the application of the placement). Once an
     * {@link Crossing#UPCALL} has brought that context its completions, every further transfer until
     * {@link #rest} only lets preempted contexts (a partition, an emulator) finish what is no longer
     * work for the I/O: those are recorded as idle switches, not crossings (DESIGN section 3: the
     * returns that count are those that resume the I/O's originator).
     */
    public void setOriginator(Context context) {
        this.originator = context;
    }

    /** The executor has control again: the next transfers belong to a new I/O. */
    public void rest() {
        delivered = false;
    }

    /** A crossing of {@code kind} from the current context into {@code to}. */
    public void switchTo(Crossing kind, Context to, String what) {
        if (delivered) {
            idleSwitch(to);
            return;
        }
        Context from = current;
        if (probe != null) {
            probe.entering(to, kind != Crossing.SYSRET && kind != Crossing.VMENTRY);
        }
        trace.record(kind, from, to, what);
        advance(to, CostPart.of(kind), profile.crossingPicos(kind));
        enter(from, to);
        if (kind == Crossing.UPCALL && to == originator) {
            delivered = true;
        }
    }

    /**
     * A device interrupts this CPU and {@code handler} takes it: a {@link Crossing#DEVICE_IRQ} from
     * {@code device} (what the trace shows) while the CPU leaves whatever context it was running.
     */
    public void takeInterrupt(Context device, Context handler, String what) {
        if (delivered) {
            idleSwitch(handler);
            return;
        }
        if (probe != null) {
            probe.entering(handler, true);
        }
        trace.record(Crossing.DEVICE_IRQ, device, handler, what);
        advance(handler, CostPart.DEVICE_IRQ, profile.crossingPicos(Crossing.DEVICE_IRQ));
        enter(current, handler);
    }

    /** Software starts the device; the CPU stays in the current context. */
    public void startDevice(Context device, String what) {
        trace.record(Crossing.DEVICE_START, current, device, what);
        advance(current, CostPart.DEVICE_START, profile.crossingPicos(Crossing.DEVICE_START));
    }

    /**
     * The current context has nothing left to do and {@code to} runs instead (a block, an idle
     * return): the same work as a crossing, counted apart as an idle switch.
     */
    public void idleSwitch(Context to) {
        if (to == current) {
            return;
        }
        if (probe != null) {
            probe.entering(to, false);
        }
        trace.recordIdleSwitch();
        advance(to, CostPart.IDLE_SWITCH, profile.idleSwitchPicos());
        enter(current, to);
    }

    private void enter(Context from, Context to) {
        if (from != null) {
            from.saveArea().putBytes(0, liveRegisters, 0, Context.SAVE_AREA_BYTES);
        }
        liveRegisters.putBytes(0, to.saveArea(), 0, Context.SAVE_AREA_BYTES);
        AddressSpace space = to.space();
        if (space != null && space != currentSpace) {
            currentSpace = space;
            advance(to, CostPart.ADDRESS_SPACE_SWITCH, profile.addressSpaceSwitchPicos());
            if (!tlb.tagged()) {
                advance(to, CostPart.TLB_FLUSH, profile.tlbFlushPicos());
            }
            tlb.onAddressSpaceSwitch();
        }
        current = to;
    }

    /**
     * Translates {@code va} in {@code space} for {@code access}: TLB first, then the page walk, whose
     * result fills the TLB. A lookup in a space other than the current one is tagged with that
     * space's id, as a hypervisor's copy from a guest is.
     *
     * @return the machine address, or {@code -EFAULT} when unmapped or not permitted
     */
    public long translate(AddressSpace space, long va, int access) {
        if ((int) FLUSH_REQUESTED.getAcquire(this) != 0) {
            applyRequestedFlush();
        }
        int asid = space.asid();
        long t = tlb.lookup(asid, va);
        if (t == Tlb.MISS) {
            t = PageWalker.walk(memory, space.table().rootMa(), space.table().levels(), va);
            walks++;
            charge(CostPart.TLB_MISS, profile.tlbMissPicos());
            if (t < 0) {
                faults++;
                charge(CostPart.TLB_WALK, profile.walkLevelPicos());
                return t;
            }
            int levels = PageWalker.levelsRead(space.table().levels(), Translation.pageShift(t));
            walkLevels += levels;
            charge(CostPart.TLB_WALK, levels * profile.walkLevelPicos());
            tlb.insert(asid, va, t);
        }
        if (!Translation.allows(t, access)) {
            faults++;
            return -Errno.EFAULT;
        }
        return Translation.machineAddress(t, va);
    }

    /** Translates in the current context's address space. */
    public long translate(long va, int access) {
        return translate(currentSpace, va, access);
    }

    /** A {@link Translator} for one address space through this CPU; make it once, at set-up. */
    public Translator view(AddressSpace space) {
        return (va, access) -> translate(space, va, access);
    }

    /**
     * Copies {@code length} bytes from {@code srcVa} in {@code srcSpace} to {@code dstVa} in
     * {@code dstSpace}, translating once per page on each side.
     *
     * @return 0, or {@code -EFAULT} at the first page that does not translate (bytes before it were copied)
     */
    public int copy(AddressSpace srcSpace, long srcVa, AddressSpace dstSpace, long dstVa, int length) {
        int done = 0;
        while (done < length) {
            long s = srcVa + done;
            long d = dstVa + done;
            int chunk = (int) Math.min(length - done,
                Math.min(MachineMemory.PAGE_SIZE - (s & MachineMemory.PAGE_MASK), MachineMemory.PAGE_SIZE - (d & MachineMemory.PAGE_MASK)));
            long sMa = translate(srcSpace, s, Translation.READ);
            if (sMa < 0) {
                return (int) sMa;
            }
            long dMa = translate(dstSpace, d, Translation.WRITE);
            if (dMa < 0) {
                return (int) dMa;
            }
            memory.copy(sMa, dMa, chunk);
            done += chunk;
        }
        chargeCopy(length);
        return 0;
    }

    /** Adds the modelled cost of a TLB flush this CPU was asked for (a shoot-down after an unmap). */
    public void chargeTlbFlush() {
        charge(CostPart.TLB_FLUSH, profile.tlbFlushPicos());
    }

    /** Adds the modelled cost of a CPU copy of {@code bytes}. */
    public void chargeCopy(long bytes) {
        bytesCopied += bytes;
        charge(CostPart.COPY, profile.copyPicos(bytes));
    }

    /**
     * Charges the work this CPU does from now on (TLB misses and walks, flushes, copies; not the
     * crossings) to {@code part} instead of its own cause, until called again: a subsystem such as the
     * grant table brackets its hypercall with it so that its cost shows as one part. {@code null}
     * restores the default.
     *
     * @return the part in force before, to restore
     */
    public CostPart chargeWorkTo(CostPart part) {
        CostPart previous = workPart;
        workPart = part;
        return previous;
    }

    private void charge(CostPart part, long picos) {
        if (probe != null) {
            probe.running(current);
        }
        CostPart p = workPart;
        advance(current, p == null ? part : p, picos);
    }

    /**
     * Advances the clock and charges the same picoseconds to {@code on}, the context the work is done
     * in (a crossing's cost to the context it enters), so that time splits by context as well as by cause.
     */
    private void advance(Context on, CostPart part, long picos) {
        clock.advance(part, picos);
        if (on != null) {
            on.charge(picos);
        }
    }

    /** Runs the handlers of every pending interrupt; returns how many ran. */
    public int deliverInterrupts() {
        if ((int) FLUSH_REQUESTED.getAcquire(this) != 0) {
            applyRequestedFlush();
        }
        return interrupts.deliver(this);
    }

    /**
     * Another CPU's thread changed a page table this CPU may cache: this CPU flushes its whole TLB
     * before its next translation (as Linux does past its shoot-down threshold). The requester does
     * not wait for the flush; an access in flight on this CPU may still use the old entry, as on
     * hardware before the shoot-down IPI is taken. Callable from any thread.
     */
    public void requestTlbFlush() {
        FLUSH_REQUESTED.setVolatile(this, 1);
    }

    private void applyRequestedFlush() {
        // Clear first: a request made during the flush is applied again, never lost.
        FLUSH_REQUESTED.setVolatile(this, 0);
        tlb.flushAll();
        remoteFlushes++;
        charge(CostPart.TLB_FLUSH, profile.tlbFlushPicos());
    }

    /** True when this CPU has something to do: an interrupt pending or a flush requested. */
    public boolean hasWork() {
        return interrupts.hasPending() || (int) FLUSH_REQUESTED.getAcquire(this) != 0;
    }

    /** How this CPU's thread waits, and how others wake it (the threaded executor's). */
    public Sleeper sleeper() {
        return sleeper;
    }

    /**
     * The thread that drives this CPU in the threaded executor ({@code null}: the inline executor,
     * where the one thread drives every CPU).
     */
    public void setOwner(Thread thread) {
        this.owner = thread;
    }

    /** True when the calling thread may touch this CPU's private state (its TLB, its clock). */
    public boolean ownedByCurrentThread() {
        Thread o = owner;
        return o == null || o == Thread.currentThread();
    }

    /** TLB flushes other CPUs requested ({@link #requestTlbFlush}) and this CPU applied. */
    public long remoteFlushes() {
        return remoteFlushes;
    }

    /** Index of this CPU on its machine, from 0. */
    public int id() {
        return id;
    }

    public String name() {
        return name;
    }

    public MachineMemory memory() {
        return memory;
    }

    public Context current() {
        return current;
    }

    public AddressSpace currentSpace() {
        return currentSpace;
    }

    public Tlb tlb() {
        return tlb;
    }

    public CostProfile profile() {
        return profile;
    }

    public CrossingTrace trace() {
        return trace;
    }

    public VirtualClock clock() {
        return clock;
    }

    public InterruptController interrupts() {
        return interrupts;
    }

    /** Page walks after TLB misses. */
    public long walks() {
        return walks;
    }

    /** Table entries read by those walks. */
    public long walkLevels() {
        return walkLevels;
    }

    /** Translations refused (unmapped or not permitted). */
    public long faults() {
        return faults;
    }

    public long bytesCopied() {
        return bytesCopied;
    }

    @Override
    public String toString() {
        return name;
    }
}
