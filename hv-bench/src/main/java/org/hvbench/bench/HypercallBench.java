package org.hvbench.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.guest.DomainMemory;
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
 * The cost of entering the hypervisor: one console write (a 16-byte copy from the guest) per
 * hypercall, against {@code calls} of them batched into one multicall. Each operation is one entry
 * into the hypervisor (HYPERCALL in, VMENTRY out); the {@code calls} counter is hypercalls per
 * second, so entry cost amortized over a batch shows as calls/s rising with the batch.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class HypercallBench {
    @Param({"false", "true"})
    public boolean tlbTagged;

    private Machine machine;
    private Hypervisor hypervisor;
    private Cpu cpu;
    private long textGpa;
    private long multicallGpa;

    /** Console writes per multicall: a parameter of {@link #multicall} only. */
    @State(Scope.Thread)
    public static class Batch {
        @Param({"1", "8", "32"})
        public int calls;
    }

    /** Hypercalls made, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Calls {
        public long calls;

        @Setup(Level.Iteration)
        public void clear() {
            calls = 0;
        }
    }

    @Setup(Level.Trial)
    public void boot() {
        machine = new Machine(BenchConfig.machine().memory(64L << 20).tlbTagged(tlbTagged));
        cpu = machine.newCpu("cpu0");
        hypervisor = new Hypervisor(machine);
        hypervisor.attach(cpu);
        Domain guest = hypervisor.createDomain("guest", "guest", 1L << 20, false);
        DomainMemory memory = new DomainMemory(guest, machine.memory());
        textGpa = memory.allocate(1);
        memory.hostWrite(textGpa, "hvbench console\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, 16);
        multicallGpa = memory.allocate(1);
        ByteBuffer entries = ByteBuffer.allocate(Hypercall.MULTICALL_MAX * Hypercall.MULTICALL_ENTRY_BYTES)
            .order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < Hypercall.MULTICALL_MAX; i++) {
            int e = i * Hypercall.MULTICALL_ENTRY_BYTES;
            entries.putLong(e + Hypercall.MULTICALL_OP, Hypercall.CONSOLE_IO);
            entries.putLong(e + Hypercall.MULTICALL_ARGS, Hypercall.CONSOLE_WRITE);
            entries.putLong(e + Hypercall.MULTICALL_ARGS + 8, 16);
            entries.putLong(e + Hypercall.MULTICALL_ARGS + 16, textGpa);
        }
        memory.hostWrite(multicallGpa, entries.array(), 0, entries.capacity());
        cpu.start(guest.kernel());
    }

    /** One console write, one entry. */
    @Benchmark
    public long single(Calls counters) {
        counters.calls++;
        return hypervisor.hypercall(cpu, Hypercall.CONSOLE_IO, Hypercall.CONSOLE_WRITE, 16, textGpa, 0);
    }

    /** {@code calls} console writes in one entry. */
    @Benchmark
    public long multicall(Batch batch, Calls counters) {
        counters.calls += batch.calls;
        return hypervisor.hypercall(cpu, Hypercall.MULTICALL, multicallGpa, batch.calls, 0, 0);
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        machine.close();
    }
}
