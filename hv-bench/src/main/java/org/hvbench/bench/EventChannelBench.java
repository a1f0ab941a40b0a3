package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Event channels, two-level layout: {@code sendDeliver} is one event from a sender's kernel to a
 * waiting receiver, which runs its handler at once (HYPERCALL, VIRQ, the handler, the return);
 * {@code burst} sends {@code burst} events while the receiver's port is masked and then unmasks it:
 * the events coalesce into one delivery. Counters: {@code sends} and {@code deliveries} per second,
 * whose quotient is the coalescing ratio.
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
    public void boot() {
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

    @TearDown(Level.Trial)
    public void shutdown() {
        if (handled == 0) {
            throw new IllegalStateException("no event was ever delivered");
        }
        machine.close();
    }
}
