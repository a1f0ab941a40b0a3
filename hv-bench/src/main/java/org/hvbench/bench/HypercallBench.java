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
 * {@link OpCounters} gives crossings, TLB misses and modelled ns per entry.
 *
 * <p>Each iteration ends with a check ({@link #checkIteration}): every entry returned what it names
 * (16 bytes written, or 0 for a multicall), the hypervisor counted one entry per operation, and each
 * console write of the last multicall wrote its own result word (16) over the marker set at the
 * iteration's start; otherwise the run fails.
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

    /** A console write of this many bytes: what {@link #single} and each multicall entry ask for. */
    static final int TEXT_BYTES = 16;
    /** Written over each multicall result word before an iteration: no result the hypervisor writes. */
    static final long NO_RESULT = Long.MIN_VALUE;

    private Machine machine;
    private Hypervisor hypervisor;
    private Cpu cpu;
    private CoreMeter meter;
    /** The guest's console text; package-private so a test can point it where nothing is mapped. */
    long textGpa;
    private long multicallGpa;
    /** Machine address of the multicall entries, for the harness's own reads (no TLB, no modelled cost). */
    private long multicallMa;
    // Per iteration: entries made, entries whose return value was wrong, the last multicall's size.
    private long entries;
    private long wrongReturns;
    private int lastBatch;
    private long hypercallsAtStart;

    /** Console writes per multicall: a parameter of {@link #multicall} only. */
    @State(Scope.Thread)
    public static class Batch {
        @Param({"1", "8", "32"})
        public int calls;
    }

    /** Hypercalls made (each console write of a multicall counts), as a rate. */
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
        memory.hostWrite(textGpa, "hvbench console\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, TEXT_BYTES);
        multicallGpa = memory.allocate(1);
        ByteBuffer entries = ByteBuffer.allocate(Hypercall.MULTICALL_MAX * Hypercall.MULTICALL_ENTRY_BYTES)
            .order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < Hypercall.MULTICALL_MAX; i++) {
            int e = i * Hypercall.MULTICALL_ENTRY_BYTES;
            entries.putLong(e + Hypercall.MULTICALL_OP, Hypercall.CONSOLE_IO);
            entries.putLong(e + Hypercall.MULTICALL_ARGS, Hypercall.CONSOLE_WRITE);
            entries.putLong(e + Hypercall.MULTICALL_ARGS + 8, TEXT_BYTES);
            entries.putLong(e + Hypercall.MULTICALL_ARGS + 16, textGpa);
        }
        memory.hostWrite(multicallGpa, entries.array(), 0, entries.capacity());
        multicallMa = memory.hostTranslate(multicallGpa);
        cpu.start(guest.kernel());
        meter = new CoreMeter(new Cpu[] {cpu}, machine.iommu().iotlb(), machine.iommu().clock());
    }

    /** Marks every multicall result word and starts the iteration's tallies. */
    @Setup(Level.Iteration)
    public void startIteration() {
        for (int i = 0; i < Hypercall.MULTICALL_MAX; i++) {
            machine.memory().putLong(resultMa(i), NO_RESULT);
        }
        entries = 0;
        wrongReturns = 0;
        lastBatch = 0;
        hypercallsAtStart = hypervisor.hypercalls();
    }

    private long resultMa(int entry) {
        return multicallMa + (long) entry * Hypercall.MULTICALL_ENTRY_BYTES + Hypercall.MULTICALL_RESULT;
    }

    /** One console write, one entry. */
    @Benchmark
    public long single(Calls counters, OpCounters ops) {
        meter.begin(0);
        long r = hypervisor.hypercall(cpu, Hypercall.CONSOLE_IO, Hypercall.CONSOLE_WRITE, TEXT_BYTES, textGpa, 0);
        meter.end(ops, 1, 0);
        counters.calls++;
        entries++;
        if (r != TEXT_BYTES) {
            wrongReturns++;
        }
        return r;
    }

    /** {@code calls} console writes in one entry. */
    @Benchmark
    public long multicall(Batch batch, Calls counters, OpCounters ops) {
        meter.begin(0);
        long r = hypervisor.hypercall(cpu, Hypercall.MULTICALL, multicallGpa, batch.calls, 0, 0);
        meter.end(ops, 1, 0);
        counters.calls += batch.calls;
        entries++;
        lastBatch = batch.calls;
        if (r != 0) {
            wrongReturns++;
        }
        return r;
    }

    /**
     * Fails the run unless the iteration's entries did their work: at least one entry, each returned
     * what it names, the hypervisor counted each, and the last multicall's console writes each wrote 16.
     */
    @TearDown(Level.Iteration)
    public void checkIteration() {
        if (entries == 0) {
            throw new IllegalStateException("HypercallBench: no hypercall was made in the iteration");
        }
        if (wrongReturns != 0) {
            throw new IllegalStateException("HypercallBench: " + wrongReturns + " of " + entries + " hypercalls did not return "
                + (lastBatch == 0 ? TEXT_BYTES + " (bytes written)" : "0 (multicall done)"));
        }
        long counted = hypervisor.hypercalls() - hypercallsAtStart;
        if (counted != entries) {
            throw new IllegalStateException("HypercallBench: " + entries + " hypercalls made but the hypervisor counted " + counted);
        }
        for (int i = 0; i < lastBatch; i++) {
            long result = machine.memory().getLong(resultMa(i));
            if (result != TEXT_BYTES) {
                throw new IllegalStateException("HypercallBench: multicall entry " + i + " of " + lastBatch + " has result "
                    + (result == NO_RESULT ? "unwritten" : Long.toString(result)) + ", not " + TEXT_BYTES + " (bytes written)");
            }
        }
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        machine.close();
    }
}
