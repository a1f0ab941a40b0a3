package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.dev.RamDisk;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
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
 * The floor under every placement: the same bytes moved between the same RAM disk and page-sized
 * pieces of machine memory with the copy the device's DMA uses, and nothing else (no translation,
 * no queue, no crossing). An operation is {@code depth} copies of {@code size} bytes, as in
 * {@link ArchitectureBench}; {@code ios} counts copies.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class RawCopyBench {
    @Param({"read", "write"})
    public String operation;

    @Param({"512", "4096", "65536"})
    public int size;

    @Param({"1", "32"})
    public int depth;

    private MachineMemory memory;
    private RamDisk disk;
    private boolean read;
    private long[] pageMa;
    private int pagesPerIo;
    /** The statuses of every copy of the iteration, or-ed: 0 when all succeeded. */
    private int failures;
    private byte[] expected;
    private byte[] actual;

    @Setup(Level.Trial)
    public void boot() {
        memory = new MachineMemory(64L << 20);
        disk = new RamDisk(64L << 20);
        read = BenchConfig.opcode(operation) == org.hvbench.core.guest.Aio.PREAD;
        FrameAllocator frames = new FrameAllocator(memory);
        pagesPerIo = (int) (BenchConfig.roundToPage(size) >>> MachineMemory.PAGE_SHIFT);
        pageMa = new long[depth * pagesPerIo];
        java.util.Random random = new java.util.Random(42);
        byte[] page = new byte[MachineMemory.PAGE_SIZE];
        for (int i = 0; i < pageMa.length; i++) {
            pageMa[i] = frames.allocate(1) << MachineMemory.PAGE_SHIFT;
            // Different bytes on the disk and in memory, so that a copy that did not happen shows.
            random.nextBytes(page);
            memory.putBytes(pageMa[i], page, 0, page.length);
            random.nextBytes(page);
            long scratch = frames.allocate(1) << MachineMemory.PAGE_SHIFT;
            memory.putBytes(scratch, page, 0, page.length);
            disk.write((long) i * MachineMemory.PAGE_SIZE, memory, scratch, page.length);
        }
        expected = new byte[Math.min(size, MachineMemory.PAGE_SIZE)];
        actual = new byte[expected.length];
    }

    /** Once per iteration: every copy returned 0, and the last I/O's first page holds the bytes it names. */
    @TearDown(Level.Iteration)
    public void check() {
        if (failures != 0) {
            throw new IllegalStateException("RawCopyBench: a copy failed (status " + failures + ")");
        }
        long diskOffset = (long) (depth - 1) * pagesPerIo * MachineMemory.PAGE_SIZE;
        disk.peek(diskOffset, expected, 0, expected.length);
        memory.getBytes(pageMa[(depth - 1) * pagesPerIo], actual, 0, actual.length);
        if (!java.util.Arrays.equals(expected, actual)) {
            throw new IllegalStateException("RawCopyBench: after a " + operation + " of " + size + " B, memory and disk differ");
        }
    }

    @Benchmark
    public int copy(CopyCounters counters) {
        int status = 0;
        for (int io = 0; io < depth; io++) {
            long diskOffset = (long) io * pagesPerIo * MachineMemory.PAGE_SIZE;
            int left = size;
            for (int p = 0; left > 0; p++) {
                int chunk = Math.min(left, MachineMemory.PAGE_SIZE);
                long ma = pageMa[io * pagesPerIo + p];
                status |= read ? disk.read(diskOffset, memory, ma, chunk) : disk.write(diskOffset, memory, ma, chunk);
                diskOffset += chunk;
                left -= chunk;
            }
        }
        counters.ios += depth;
        failures |= status;
        return status;
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        disk.close();
        memory.close();
    }
}
