package org.hvbench.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.InterruptController;
import org.hvbench.core.cpu.PostedInterrupts;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.evtchn.FifoEvents;
import org.hvbench.core.evtchn.FifoLayout;
import org.hvbench.core.evtchn.FifoQueues;
import org.hvbench.core.evtchn.SharedInfo;
import org.hvbench.core.evtchn.TwoLevelEvents;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.Control;

/**
 * Event channels, two-level layout: {@code sendDeliver} is one event from a sender's kernel to a
 * waiting receiver, which runs its handler at once (HYPERCALL, VIRQ, the handler, the return);
 * {@code burst} sends {@code burst} events while the receiver's port is masked and then unmasks it:
 * the events coalesce into one delivery. Counters: {@code sends} and {@code deliveries} per second,
 * whose quotient is the coalescing ratio.
 *
 * <p>Delivery mechanisms compared ({@code mode}: {@code two-level} bitmaps, {@code fifo} queues,
 * {@code posted} interrupts), in delivered events per second: {@code deliver} on one thread, the
 * hypervisor's delivery of one event (as after a device interrupt) through the receiver's upcall and
 * handler, or a posted vector taken by the CPU; {@code crossThread}, a producer thread that sets
 * batches of {@value CrossThread#BATCH} distinct ports pending (the next batch once the last has run)
 * and a consumer thread that polls the notification word (upcall_pending, READY after it drained
 * the FIFO inbox, or the notification vector) and runs the kernel's upcall, the words only, no
 * crossings. Both count an operation per event ({@code @OperationsPerInvocation}). They run in
 * throughput mode, as every benchmark here with {@link OpCounters}: only there is a counter divided
 * by {@code ops} a count per operation (in average-time mode JMH reports a counter as time per count).
 *
 * <p>{@link OpCounters}: an operation is one invocation of {@code sendDeliver} and {@code burst}, one
 * event of {@code deliver} and {@code crossThread}; {@code notifications} are the notifications the
 * receiver took: virtual interrupts (VIRQ crossings: an upcall each) with two-level and FIFO events,
 * notification vectors with posted interrupts, and in {@code crossThread} the upcalls the consumer ran. In the {@code crossThread} group the counters
 * are on the consumer's side only: it runs the receiver's CPU, and the producer only writes words.
 *
 * <p>Each iteration ends with a check that the events were delivered, or the run fails:
 * {@code sendDeliver} ran the handler once per send and {@code burst} once per burst, every send
 * returning 0; {@code deliver} ran it once per event; in {@code crossThread} the consumer ran handlers
 * in the iteration, never more than the producer sent and never more than one batch fewer.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class EventChannelBench {
    private Machine machine;
    private Hypervisor hv;
    private EventChannels channels;
    private Cpu cpu;
    private CoreMeter meter;
    private Domain sender;
    private Domain receiver;
    /** The receiver's two-level dispatcher; package-private so a test can mask its port. */
    EventDispatcher receiverEvents;
    private String method;
    private int sendPort;
    /** The receiver's port; package-private so a test can mask it. */
    int receivePort;
    /** Handler runs (the receiver's events delivered); package-private for tests. */
    long handled;
    // Per iteration: operations (each must run the handler once), sends that did not return 0.
    private long invocations;
    private long handledAtStart;
    private long failedSends;

    /** Events in one masked burst: a parameter of {@link #burst} only. */
    @State(Scope.Thread)
    public static class Burst {
        @Param({"1", "8", "64"})
        public int burst;
    }

    /** Sends and deliveries, as rates. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Events {
        public long sends;
        public long deliveries;

        @Setup(Level.Iteration)
        public void clear() {
            sends = 0;
            deliveries = 0;
        }
    }

    @Setup(Level.Trial)
    public void boot(BenchmarkParams params) {
        String name = params.getBenchmark();
        open(name.substring(name.lastIndexOf('.') + 1));
    }

    /** Builds the sender and receiver for {@code method} (sendDeliver or burst); nothing for the others. */
    void open(String method) {
        if (!method.equals("sendDeliver") && !method.equals("burst")) {
            return; // deliver and crossThread set up their own machines (SameThread, CrossThread)
        }
        this.method = method;
        machine = new Machine(BenchConfig.machine().memory(32L << 20));
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        channels = new EventChannels(hv);
        sender = hv.createDomain("sender", "a", 1L << 20, false);
        receiver = hv.createDomain("receiver", "b", 1L << 20, false);
        receiverEvents = new EventDispatcher(hv, receiver, machine.memory(), cpu.view(receiver.space()),
            receiver.sharedInfoGpa(), 16);
        receiver.setVirqHandler(receiverEvents);
        cpu.start(receiver.kernel());
        receivePort = (int) hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, sender.id(), 0, 0);
        receiverEvents.bind(receivePort, (c, port) -> handled++);
        cpu.start(sender.kernel());
        sendPort = (int) hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, receiver.id(),
            receivePort, 0);
        if (receivePort <= 0 || sendPort <= 0) {
            throw new IllegalStateException("event channel set-up failed");
        }
        meter = new CoreMeter(new Cpu[] {cpu}, machine.iommu().iotlb(), machine.iommu().clock());
    }

    /** Starts the iteration's tallies (sendDeliver and burst; the others have no machine here). */
    @Setup(Level.Iteration)
    public void startIteration() {
        invocations = 0;
        failedSends = 0;
        handledAtStart = handled;
    }

    /** Sends one event from the sender's kernel; counts it as failed unless the hypercall returns 0. */
    private void send() {
        if (hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, sendPort, 0, 0) != 0) {
            failedSends++;
        }
    }

    @Benchmark
    public long sendDeliver(Events counters, OpCounters ops) {
        long before = handled;
        meter.begin(cpu.trace().count(Crossing.VIRQ));
        cpu.start(sender.kernel());
        send();
        meter.end(ops, 1, cpu.trace().count(Crossing.VIRQ));
        counters.sends++;
        counters.deliveries += handled - before;
        invocations++;
        return handled;
    }

    @Benchmark
    public long burst(Burst b, Events counters, OpCounters ops) {
        long before = handled;
        meter.begin(cpu.trace().count(Crossing.VIRQ));
        receiverEvents.mask(receivePort);
        cpu.start(sender.kernel());
        for (int i = 0; i < b.burst; i++) {
            send();
        }
        cpu.start(receiver.kernel());
        receiverEvents.unmask(cpu, receivePort);
        meter.end(ops, 1, cpu.trace().count(Crossing.VIRQ));
        counters.sends += b.burst;
        counters.deliveries += handled - before; // the burst coalesces into one delivery
        invocations++;
        return handled;
    }

    /**
     * Fails the run unless the iteration's sends were delivered: one handler run per
     * {@code sendDeliver}, one per {@code burst}, every send returning 0.
     */
    @TearDown(Level.Iteration)
    public void checkIteration() {
        if (machine == null) {
            return; // deliver and crossThread check their own states
        }
        String what = method + ": ";
        if (invocations == 0) {
            throw new IllegalStateException(what + "no event was sent in the iteration");
        }
        if (failedSends != 0) {
            throw new IllegalStateException(what + failedSends + " event sends did not return 0");
        }
        long ran = handled - handledAtStart;
        if (ran != invocations) {
            throw new IllegalStateException(what + invocations + " operations should have run the receiver's handler "
                + invocations + " times; it ran " + ran + " times");
        }
    }

    /** One event, on the CPU's own thread: as many deliveries as events, checked after each iteration. */
    @Benchmark
    public long deliver(SameThread s, Events counters, OpCounters ops) {
        long before = s.handled;
        s.meter.begin(s.notificationCount());
        s.deliverOne();
        s.meter.end(ops, 1, s.notificationCount());
        s.delivered++;
        counters.sends++;
        counters.deliveries += s.handled - before;
        return s.handled;
    }

    /**
     * The producer of {@code crossThread}: waits until the consumer has run the last batch, then sets
     * the next {@value CrossThread#BATCH} ports pending (distinct ports: none coalesces).
     */
    @Benchmark
    @Group("crossThread")
    @GroupThreads(1)
    @OperationsPerInvocation(CrossThread.BATCH)
    public void crossThreadProducer(CrossThread s, Sent counters, Control control) {
        SentCount sent = s.sent;
        while (s.progress.consumed() != sent.count) {
            if (control.stopMeasurement) {
                return;
            }
            Thread.onSpinWait();
        }
        for (int i = 0; i < CrossThread.BATCH; i++) {
            s.send(CrossThread.FIRST_PORT + i);
        }
        sent.count += CrossThread.BATCH;
        counters.sends += CrossThread.BATCH;
    }

    /**
     * The consumer of {@code crossThread}: polls the notification word and runs the upcall when it is
     * set, until {@value CrossThread#BATCH} handlers have run. The group's {@link OpCounters} are on
     * this side: an operation is a handler run, a notification an upcall it took.
     */
    @Benchmark
    @Group("crossThread")
    @GroupThreads(1)
    @OperationsPerInvocation(CrossThread.BATCH)
    public void crossThreadConsumer(CrossThread s, Delivered counters, OpCounters ops, Control control) {
        Progress progress = s.progress;
        long start = progress.handled;
        long upcalls = 0;
        s.meter.begin(0);
        while (progress.handled - start < CrossThread.BATCH) {
            long before = progress.handled;
            if (s.poll()) {
                upcalls++;
            }
            if (progress.handled != before) {
                progress.publish();
            } else if (control.stopMeasurement) {
                break;
            } else {
                Thread.onSpinWait();
            }
        }
        s.meter.end(ops, progress.handled - start, upcalls);
        counters.deliveries += progress.handled - start;
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        if (machine == null) {
            return;
        }
        if (handled == 0) {
            throw new IllegalStateException("no event was ever delivered");
        }
        machine.close();
    }

    static final String TWO_LEVEL = "two-level";
    static final String FIFO = "fifo";
    static final String POSTED = "posted";
    private static final int NOTIFICATION_VECTOR = 3;
    private static final String WHAT = "the hypervisor delivers an event to the receiver's kernel";

    private static IllegalArgumentException badMode(String mode) {
        return new IllegalArgumentException("mode: " + mode + " is not allowed; use two-level, fifo or posted");
    }

    /** A receiver set up for one delivery mechanism, driven on the benchmark thread. */
    @State(Scope.Thread)
    public static class SameThread {
        /** two-level, fifo or posted. */
        @Param({TWO_LEVEL, FIFO, POSTED})
        public String mode;

        private Machine machine;
        private Cpu cpu;
        private Hypervisor hv;
        private EventChannels channels;
        private Domain receiver;
        private PostedInterrupts posted;
        private int port;
        CoreMeter meter;
        /** Handler runs; package-private for tests. */
        long handled;
        /** Events delivered ({@link #deliverOne} calls) in the iteration. */
        long delivered;
        private long handledAtStart;

        @Setup(Level.Trial)
        public void boot() {
            machine = new Machine(BenchConfig.machine().memory(32L << 20));
            cpu = machine.newCpu("cpu0");
            hv = new Hypervisor(machine);
            hv.attach(cpu);
            channels = new EventChannels(hv);
            new FifoEvents(hv, channels);
            receiver = hv.createDomain("receiver", "b", 1L << 20, false);
            port = channels.bindHypervisorEvent(receiver);
            EventDispatcher.PortHandler handler = (c, p) -> handled++;
            cpu.start(receiver.kernel());
            switch (mode) {
                case TWO_LEVEL: {
                    EventDispatcher d = new EventDispatcher(hv, receiver, machine.memory(), cpu.view(receiver.space()),
                        receiver.sharedInfoGpa(), 16);
                    d.bind(port, handler);
                    receiver.setVirqHandler(d);
                    break;
                }
                case FIFO: {
                    long r = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_INIT_CONTROL, receiver.windowStart(), 0, 0);
                    if (r != 0) {
                        throw new IllegalStateException("EVTCHN_INIT_CONTROL failed: " + r);
                    }
                    FifoDispatcher d = FifoDispatcher.forDomain(hv, receiver, cpu.view(receiver.space()), receiver.windowStart(), 64);
                    d.bind(port, handler);
                    receiver.setVirqHandler(d);
                    break;
                }
                case POSTED: {
                    posted = new PostedInterrupts(cpu.interrupts(), NOTIFICATION_VECTOR);
                    PostedInterrupts.Handler isr = vector -> handler.onEvent(cpu, vector);
                    cpu.interrupts().register(NOTIFICATION_VECTOR, (c, v) -> {
                        c.takeInterrupt(hv.deviceContext(), receiver.kernel(), "posted interrupt: straight to the kernel");
                        posted.drain(isr);
                        c.idleSwitch(hv.context(c));
                    });
                    break;
                }
                default:
                    throw badMode(mode);
            }
            cpu.start(hv.context(cpu));
            meter = new CoreMeter(new Cpu[] {cpu}, machine.iommu().iotlb(), machine.iommu().clock());
        }

        /** Notifications the receiver took so far: posted notification vectors, else virtual interrupts (VIRQ). */
        long notificationCount() {
            return posted != null ? posted.notifications() : cpu.trace().count(Crossing.VIRQ);
        }

        @Setup(Level.Iteration)
        public void startIteration() {
            delivered = 0;
            handledAtStart = handled;
        }

        /** Fails the run unless each event delivered in the iteration ran the handler once. */
        @TearDown(Level.Iteration)
        public void checkIteration() {
            if (delivered == 0) {
                throw new IllegalStateException("deliver, mode " + mode + ": no event was delivered in the iteration");
            }
            long ran = handled - handledAtStart;
            if (ran != delivered) {
                throw new IllegalStateException("deliver, mode " + mode + ": " + delivered + " events delivered but the handler ran "
                    + ran + " times");
            }
        }

        /** The hypervisor delivers one event (or the device posts one vector and the CPU takes it). */
        void deliverOne() {
            if (posted != null) {
                posted.post(port);
                cpu.deliverInterrupts();
            } else {
                channels.deliver(cpu, receiver, port, WHAT);
            }
        }

        @TearDown(Level.Trial)
        public void shutdown() {
            if (handled == 0) {
                throw new IllegalStateException("mode " + mode + ": no event was ever delivered");
            }
            machine.close();
        }
    }

    /** Left padding: keeps the consumer's counters off the cache lines of other fields. */
    abstract static class ProgressPadLeft {
        long p01, p02, p03, p04, p05, p06, p07, p08;
    }

    abstract static class ProgressFields extends ProgressPadLeft {
        /** Handlers run (consumer thread only). */
        long handled;
        /** {@code handled} as published to the producer (release store, acquire load). */
        volatile long consumed;
    }

    /** The consumer's progress, padded on both sides: the producer reads {@code consumed} only. */
    static final class Progress extends ProgressFields {
        private static final VarHandle CONSUMED;

        static {
            try {
                CONSUMED = MethodHandles.lookup().findVarHandle(ProgressFields.class, "consumed", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        long p11, p12, p13, p14, p15, p16, p17, p18;

        long consumed() {
            return (long) CONSUMED.getAcquire(this);
        }

        void publish() {
            CONSUMED.setRelease(this, handled);
        }
    }

    /** The producer's count of events sent, padded on both sides like {@link Progress}: the consumer never reads it. */
    static final class SentCount extends ProgressPadLeft {
        /** Events set pending (producer thread only; read by the iteration's check after JMH's barrier). */
        long count;
        long p11, p12, p13, p14, p15, p16, p17, p18;
    }

    /** The words both threads share, for one delivery mechanism; no hypervisor crossing on either side. */
    @State(Scope.Group)
    public static class CrossThread {
        static final int BATCH = 32;
        static final int FIRST_PORT = 1;

        /** two-level, fifo or posted. */
        @Param({TWO_LEVEL, FIFO, POSTED})
        public String mode;

        final Progress progress = new Progress();
        final SentCount sent = new SentCount();
        /** The consumer's meter (its CPU only: the producer runs none). */
        CoreMeter meter;
        private long handledAtStart;
        private Machine machine;
        private MachineMemory memory;
        private Cpu consumerCpu;
        private int kind;
        private long sharedInfoMa;
        private EventDispatcher twoLevel;
        private FifoQueues queues;
        private FifoDispatcher fifo;
        private long readyMa;
        private PostedInterrupts posted;
        private InterruptController controller;

        @Setup(Level.Trial)
        public void boot() {
            machine = new Machine(BenchConfig.machine().memory(32L << 20));
            memory = machine.memory();
            consumerCpu = machine.newCpu("consumer");
            Hypervisor hv = new Hypervisor(machine);
            hv.attach(consumerCpu);
            EventChannels channels = new EventChannels(hv);
            FifoEvents fifoEvents = new FifoEvents(hv, channels);
            Domain receiver = hv.createDomain("receiver", "b", 1L << 20, false);
            EventDispatcher.PortHandler handler = (c, p) -> progress.handled++;
            consumerCpu.start(receiver.kernel());
            switch (mode) {
                case TWO_LEVEL:
                    kind = 0;
                    sharedInfoMa = receiver.sharedInfoMa();
                    twoLevel = new EventDispatcher(hv, receiver, memory, consumerCpu.view(receiver.space()),
                        receiver.sharedInfoGpa(), 16);
                    for (int i = 0; i < BATCH; i++) {
                        twoLevel.bind(FIRST_PORT + i, handler);
                    }
                    break;
                case FIFO:
                    kind = 1;
                    if (hv.hypercall(consumerCpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_INIT_CONTROL,
                        receiver.windowStart(), 0, 0) != 0) {
                        throw new IllegalStateException("EVTCHN_INIT_CONTROL failed");
                    }
                    queues = fifoEvents.queues(receiver);
                    readyMa = queues.controlMa() + FifoLayout.READY;
                    fifo = FifoDispatcher.forDomain(hv, receiver, consumerCpu.view(receiver.space()), receiver.windowStart(),
                        2 * BATCH);
                    for (int i = 0; i < BATCH; i++) {
                        fifo.bind(FIRST_PORT + i, handler);
                    }
                    break;
                case POSTED:
                    kind = 2;
                    controller = consumerCpu.interrupts();
                    posted = new PostedInterrupts(controller, NOTIFICATION_VECTOR);
                    PostedInterrupts.Handler isr = vector -> progress.handled++;
                    controller.register(NOTIFICATION_VECTOR, (c, v) -> posted.drain(isr));
                    break;
                default:
                    throw badMode(mode);
            }
            meter = new CoreMeter(new Cpu[] {consumerCpu}, null, null);
        }

        @Setup(Level.Iteration)
        public void startIteration() {
            handledAtStart = progress.handled;
        }

        /**
         * Fails the run unless the consumer ran handlers in the iteration, no more than the producer
         * sent and no fewer than all but the batch in flight. Runs after JMH's barrier: both threads
         * have stopped, so the plain counts are read as their threads left them.
         */
        @TearDown(Level.Iteration)
        public void checkIteration() {
            long handled = progress.handled;
            long sentCount = sent.count;
            if (handled == handledAtStart) {
                throw new IllegalStateException("crossThread, mode " + mode + ": no event was delivered in the iteration");
            }
            if (handled > sentCount || sentCount - handled > BATCH) {
                throw new IllegalStateException("crossThread, mode " + mode + ": " + sentCount + " events sent but " + handled
                    + " handled (at most " + BATCH + " may be in flight)");
            }
        }

        /** Producer: sets {@code port} pending; the notification is the word the consumer polls. */
        void send(int port) {
            switch (kind) {
                case 0:
                    TwoLevelEvents.setPending(memory, sharedInfoMa, port);
                    break;
                case 1:
                    queues.setPending(port);
                    break;
                default:
                    posted.post(port);
                    break;
            }
        }

        /** Consumer: the kernel's upcall (or the CPU's interrupt entry) when its word says so; true when it ran. */
        boolean poll() {
            switch (kind) {
                case 0:
                    if (memory.getIntVolatile(sharedInfoMa + SharedInfo.UPCALL_PENDING) != 0) {
                        twoLevel.onVirq(consumerCpu);
                        return true;
                    }
                    return false;
                case 1:
                    // The receiver's own CPU: the hypervisor links what the producer left in the
                    // inbox (a read when it is empty), then the upcall when READY says so.
                    queues.drain();
                    if (memory.getIntVolatile(readyMa) != 0) {
                        fifo.consume(consumerCpu);
                        return true;
                    }
                    return false;
                default:
                    if (controller.hasPending()) {
                        controller.deliver(consumerCpu);
                        return true;
                    }
                    return false;
            }
        }

        @TearDown(Level.Trial)
        public void shutdown() {
            if (progress.handled == 0) {
                throw new IllegalStateException("mode " + mode + ": no event crossed threads");
            }
            machine.close();
        }
    }

    /** Ports set pending by the producer. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Sent {
        public long sends;

        @Setup(Level.Iteration)
        public void clear() {
            sends = 0;
        }
    }

    /** Handlers run by the consumer, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Delivered {
        public long deliveries;

        @Setup(Level.Iteration)
        public void clear() {
            deliveries = 0;
        }
    }
}
