package org.hvbench.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.Cpu;
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
 * {@code posted} interrupts), in nanoseconds per delivered event: {@code deliver} on one thread, the
 * hypervisor's delivery of one event (as after a device interrupt) through the receiver's upcall and
 * handler, or a posted vector taken by the CPU; {@code crossThread}, a producer thread that sets
 * batches of {@value CrossThread#BATCH} distinct ports pending (the next batch once the last has run)
 * and a consumer thread that polls the notification word (upcall_pending, READY after it drained
 * the FIFO inbox, or the notification vector) and runs the kernel's upcall, the words only, no
 * crossings. Both count an operation per event ({@code @OperationsPerInvocation}); {@code deliveries}
 * is the consumer's time per handler run.
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
    private Cpu cpu;
    private Domain sender;
    private Domain receiver;
    private EventDispatcher receiverEvents;
    private int sendPort;
    private int receivePort;
    private long handled;

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
        if (!name.endsWith(".sendDeliver") && !name.endsWith(".burst")) {
            return; // deliver and crossThread set up their own machines (SameThread, CrossThread)
        }
        machine = new Machine(BenchConfig.machine().memory(32L << 20));
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        new EventChannels(hv);
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
    }

    @Benchmark
    public long sendDeliver(Events counters) {
        long before = handled;
        cpu.start(sender.kernel());
        hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, sendPort, 0, 0);
        counters.sends++;
        counters.deliveries += handled - before;
        return handled;
    }

    @Benchmark
    public long burst(Burst b, Events counters) {
        long before = handled;
        receiverEvents.mask(receivePort);
        cpu.start(sender.kernel());
        for (int i = 0; i < b.burst; i++) {
            hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND, sendPort, 0, 0);
        }
        cpu.start(receiver.kernel());
        receiverEvents.unmask(cpu, receivePort);
        counters.sends += b.burst;
        counters.deliveries += handled - before;
        return handled;
    }

    /** One event, on the CPU's own thread: as many deliveries as sends, checked at the end. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long deliver(SameThread s, Events counters) {
        long before = s.handled;
        s.deliverOne();
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
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @OperationsPerInvocation(CrossThread.BATCH)
    public void producer(CrossThread s, Producer p, Sent counters, Control control) {
        while (s.progress.consumed() != p.produced) {
            if (control.stopMeasurement) {
                return;
            }
            Thread.onSpinWait();
        }
        for (int i = 0; i < CrossThread.BATCH; i++) {
            s.send(CrossThread.FIRST_PORT + i);
        }
        p.produced += CrossThread.BATCH;
        counters.sends += CrossThread.BATCH;
    }

    /**
     * The consumer of {@code crossThread}: polls the notification word and runs the upcall when it is
     * set, until {@value CrossThread#BATCH} handlers have run.
     */
    @Benchmark
    @Group("crossThread")
    @GroupThreads(1)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @OperationsPerInvocation(CrossThread.BATCH)
    public void consumer(CrossThread s, Delivered counters, Control control) {
        Progress progress = s.progress;
        long start = progress.handled;
        while (progress.handled - start < CrossThread.BATCH) {
            long before = progress.handled;
            s.poll();
            if (progress.handled != before) {
                progress.publish();
            } else if (control.stopMeasurement) {
                break;
            } else {
                Thread.onSpinWait();
            }
        }
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
        long handled;

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

    /** The words both threads share, for one delivery mechanism; no hypervisor crossing on either side. */
    @State(Scope.Group)
    public static class CrossThread {
        static final int BATCH = 32;
        static final int FIRST_PORT = 1;

        /** two-level, fifo or posted. */
        @Param({TWO_LEVEL, FIFO, POSTED})
        public String mode;

        final Progress progress = new Progress();
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

        /** Consumer: the kernel's upcall (or the CPU's interrupt entry) when its word says so. */
        void poll() {
            switch (kind) {
                case 0:
                    if (memory.getIntVolatile(sharedInfoMa + SharedInfo.UPCALL_PENDING) != 0) {
                        twoLevel.onVirq(consumerCpu);
                    }
                    break;
                case 1:
                    // The receiver's own CPU: the hypervisor links what the producer left in the
                    // inbox (a read when it is empty), then the upcall when READY says so.
                    queues.drain();
                    if (memory.getIntVolatile(readyMa) != 0) {
                        fifo.consume(consumerCpu);
                    }
                    break;
                default:
                    if (controller.hasPending()) {
                        controller.deliver(consumerCpu);
                    }
                    break;
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

    /** Events the producer has sent. */
    @State(Scope.Thread)
    public static class Producer {
        long produced;
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

    /** Handlers run by the consumer: its time per delivered event, in avgt mode. */
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
