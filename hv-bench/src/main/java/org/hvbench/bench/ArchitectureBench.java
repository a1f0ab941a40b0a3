package org.hvbench.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.arch.IoPath;
import org.hvbench.core.arch.Placement;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.Executor;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.mem.Tlb;
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
 * One asynchronous I/O through each driver placement. An operation is one batch: the app submits
 * {@code depth} I/Os with one system call and the executor runs the machine until all have
 * completed: inline, on the benchmark thread alone, or threaded, with the device and the partition's
 * CPU on threads of their own (crossings are then summed over the CPUs, and modelled time is CPU time
 * summed over them, not elapsed time). The {@code ios} counter is I/Os per second; crossings, TLB misses and modelled
 * nanoseconds come as counters whose quotient by {@code ios} is per I/O (see {@link IoCounters}).
 * {@link RawCopyBench} moves the same bytes with a bare memory copy: the floor. For the channel
 * programs, {@code depth} is also the chain length (up to 64 commands of 4 KiB go in one chain).
 *
 * <p>Machine memory defaults to 256 MiB; set {@code -Dhvbench.memory=512m} (with
 * {@code -jvmArgsPrepend}) to change it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class ArchitectureBench {
    @Param({"native", "hypervisor-pv", "hypervisor-trap", "io-partition", "dom0-emulator", "passthrough",
        "passthrough-posted", "channel-program", "channel-program-iommu"})
    public String placement;

    @Param({"read", "write"})
    public String operation;

    @Param({"512", "4096", "65536"})
    public int size;

    @Param({"1", "32"})
    public int depth;

    @Param({"false", "true"})
    public boolean tlbTagged;

    /**
     * How the partition's back end or emulator reaches the guest's pages: map, copy or persistent.
     * Only io-partition and dom0-emulator use it.
     */
    @Param({"persistent"})
    public String grantMode;

    /**
     * system (the default: the IOMMU the placement's real system has, off for native, the
     * in-hypervisor drivers, the partition, the emulator and channel-program, on for passthrough,
     * passthrough-posted and channel-program-iommu), on (every DMA translated), off (no protection) or
     * exclusion (a bitmap keeps devices off the hypervisor's frames). passthrough, passthrough-posted
     * and channel-program-iommu need on (or system). Native with on is "native + IOMMU" in the report.
     */
    @Param({"system"})
    public String iommu;

    /** strict (each unmap invalidates the IOTLB before it returns) or deferred (in batches of 256). */
    @Param({"strict"})
    public String iommuInvalidation;

    /**
     * How the split placements' kernels take events: two-level (shared-info bitmaps) or fifo (priority
     * queues of event words). Others have no event channels and ignore it.
     */
    @Param({"two-level"})
    public String events;

    /**
     * sHype mandatory access control: off, ste or chwall-ste, with a policy that permits the
     * placement's own sharing. Its hooks sit at bind time, so the data path should not see them.
     */
    @Param({"off"})
    public String mac;

    /**
     * inline (the uniprocessor: everything on the benchmark thread, deterministic) or threaded (the
     * device, and the partition's CPU where there is one, each on a thread of its own).
     */
    @Param({"inline"})
    public String executor;

    /** How the threaded executor's parties wait: spin, backoff or park. Ignored by inline. */
    @Param({"backoff"})
    public String idle;

    /** none, paper-era, current-x86, or a path to a profile file; changes only the modelledNs counter. */
    @Param({"current-x86"})
    public String costProfile;

    private IoPath path;
    private Executor run;
    private App app;
    private Cpu cpu;
    private Cpu[] cpus;
    private Tlb iotlb;
    /** Each cost part's modelled picoseconds before the batch, to take the batch's share. */
    private final long[] partPicos = new long[CostPart.COUNT];

    @Setup(Level.Trial)
    public void boot() {
        MachineConfig config = BenchConfig.machine().tlbTagged(tlbTagged).costProfile(costProfile).iommu(iommu)
            .iommuInvalidation(iommuInvalidation).events(events).mac(mac);
        Executor.Kind kind = Executor.Kind.parse(executor);
        IdleMode idleMode = IdleMode.parse(idle);
        path = Placement.parse(placement).open(config, depth, GrantMode.parse(grantMode), kind.layout());
        run = kind.start(path, idleMode);
        app = path.app();
        cpu = path.cpu();
        cpus = path.cpus();
        iotlb = path.machine().iommu().iotlb();
        int opcode = BenchConfig.opcode(operation);
        byte[] data = new byte[size];
        Random random = new Random(42);
        for (int i = 0; i < depth; i++) {
            long buffer = app.allocateBuffer(size);
            random.nextBytes(data);
            app.memory().hostWrite(buffer, data, 0, size);
            app.prepare(cpu, i, opcode, (long) i * BenchConfig.roundToPage(size), buffer, size, i);
        }
        // Two warm-up batches: persistent grants and the emulator's map cache map each page once.
        run.runBatch(depth);
        run.runBatch(depth);
        for (int i = 0; i < depth; i++) {
            if (app.result(i) != size) {
                throw new IllegalStateException(placement + ": I/O " + i + " returned " + app.result(i) + ", not " + size);
            }
        }
    }

    @Benchmark
    public long io(IoCounters counters, CostSplit split) {
        long crossings = path.crossings();
        long misses = tlbMisses();
        long picos = path.modelledPicos();
        for (int p = 0; p < CostPart.COUNT; p++) {
            partPicos[p] = path.modelledPicos(CostPart.of(p));
        }
        long notifications = path.notifications();
        long iotlbMisses = iotlb.misses();
        run.runBatch(depth);
        counters.ios += depth;
        counters.crossings += path.crossings() - crossings;
        counters.tlbMisses += tlbMisses() - misses;
        counters.modelledNs += (path.modelledPicos() - picos) / 1000.0;
        counters.notifications += path.notifications() - notifications;
        counters.iotlbMisses += iotlb.misses() - iotlbMisses;
        for (int p = 0; p < CostPart.COUNT; p++) {
            CostPart part = CostPart.of(p);
            long delta = path.modelledPicos(part) - partPicos[p];
            if (delta != 0) {
                split.add(part, delta / 1000.0);
            }
        }
        return app.completed();
    }

    /**
     * Once per iteration: no I/O failed, and the last batch's I/Os each moved all their bytes. (The
     * bytes themselves are checked against the disk by DataIntegrityTest for every placement.)
     */
    @TearDown(Level.Iteration)
    public void check() {
        if (app.errors() != 0) {
            throw new IllegalStateException(placement + ": " + app.errors() + " I/Os failed during the iteration");
        }
        for (int i = 0; i < depth; i++) {
            if (app.result(i) != size) {
                throw new IllegalStateException(placement + ": I/O " + i + " returned " + app.result(i) + ", not " + size);
            }
        }
    }

    /** TLB misses of every CPU (plain reads of other threads' counters: exact when they are quiet). */
    private long tlbMisses() {
        long n = 0;
        for (Cpu c : cpus) {
            n += c.tlb().misses();
        }
        return n;
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        // Threads first: a party that does not stop throws here, and its machine is not freed under it.
        run.close();
        if (app.errors() != 0) {
            throw new IllegalStateException(placement + ": " + app.errors() + " I/Os failed during the run");
        }
        path.close();
    }
}
