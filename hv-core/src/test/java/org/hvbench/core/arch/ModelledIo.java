package org.hvbench.core.arch;

import java.util.Random;

import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.GrantMode;

/**
 * One steady-state batch of I/Os through a placement on the inline executor, as ArchitectureBench
 * runs it (two warm-up batches first), and what it cost: modelled picoseconds in total and by
 * {@link CostPart}, the crossings and idle switches of each kind, TLB and IOTLB misses, walks, copies.
 */
final class ModelledIo {
    final String placement;
    final int size;
    final int depth;
    final long totalPicos;
    final long[] partPicos = new long[CostPart.COUNT];
    final long crossings;
    final long[] crossingsByKind = new long[org.hvbench.core.cpu.Crossing.count()];
    final long idleSwitches;
    final long tlbMisses;
    final long walkLevels;
    final long iotlbMisses;
    final long iotlbInvalidations;
    final long bytesCopied;
    final long walkFaults;
    final long deviceBytes;
    final long iotlbBatches;

    private ModelledIo(String placement, int size, int depth, IoPath path, Runnable batch) {
        this.placement = placement;
        this.size = size;
        this.depth = depth;
        long[] before = counts(path);
        long picos = path.modelledPicos();
        long[] parts = new long[CostPart.COUNT];
        for (CostPart p : CostPart.values()) {
            parts[p.ordinal()] = path.modelledPicos(p);
        }
        batch.run();
        this.totalPicos = path.modelledPicos() - picos;
        for (CostPart p : CostPart.values()) {
            partPicos[p.ordinal()] = path.modelledPicos(p) - parts[p.ordinal()];
        }
        long[] after = counts(path);
        int kinds = crossingsByKind.length;
        for (int k = 0; k < kinds; k++) {
            crossingsByKind[k] = after[k] - before[k];
        }
        this.crossings = after[kinds] - before[kinds];
        this.idleSwitches = after[kinds + 1] - before[kinds + 1];
        this.tlbMisses = after[kinds + 2] - before[kinds + 2];
        this.walkLevels = after[kinds + 3] - before[kinds + 3];
        this.bytesCopied = after[kinds + 4] - before[kinds + 4];
        this.walkFaults = after[kinds + 5] - before[kinds + 5];
        this.iotlbMisses = after[kinds + 6] - before[kinds + 6];
        this.iotlbInvalidations = after[kinds + 7] - before[kinds + 7];
        this.iotlbBatches = after[kinds + 8] - before[kinds + 8];
        this.deviceBytes = after[kinds + 9] - before[kinds + 9];
    }

    /**
     * The machine's counters now: crossings of each kind, then crossings, idle switches, TLB misses,
     * walk levels, bytes copied and translation faults summed over the CPUs, then IOTLB misses, IOTLB
     * invalidations, deferred batches and the device's bytes.
     */
    private static long[] counts(IoPath path) {
        int kinds = org.hvbench.core.cpu.Crossing.count();
        long[] c = new long[kinds + 10];
        for (Cpu cpu : path.cpus()) {
            for (org.hvbench.core.cpu.Crossing k : org.hvbench.core.cpu.Crossing.values()) {
                c[k.ordinal()] += cpu.trace().count(k);
            }
            c[kinds + 1] += cpu.trace().idleSwitches();
            c[kinds + 2] += cpu.tlb().misses();
            c[kinds + 3] += cpu.walkLevels();
            c[kinds + 4] += cpu.bytesCopied();
            c[kinds + 5] += cpu.faults();
        }
        c[kinds] = path.crossings();
        c[kinds + 6] = path.machine().iommu().iotlb().misses();
        c[kinds + 7] = path.machine().iommu().invalidations();
        c[kinds + 8] = path.machine().iommu().batches();
        c[kinds + 9] = path.machine().device().bytesMoved();
        return c;
    }

    /** Opens {@code placement} on {@code config}, prepares {@code depth} reads of {@code size}, warms up, measures a batch. */
    static ModelledIo read(String placement, MachineConfig config, int size, int depth) {
        return read(placement, config, size, depth, GrantMode.PERSISTENT);
    }

    static ModelledIo read(String placement, MachineConfig config, int size, int depth, GrantMode grantMode) {
        try (IoPath path = Placement.parse(placement).open(config, depth, grantMode)) {
            InlineExecutor run = new InlineExecutor(path);
            Random random = new Random(42);
            byte[] data = new byte[size];
            long stride = (size + 4095L) & ~4095L;
            for (int i = 0; i < depth; i++) {
                long buffer = path.app().allocateBuffer(size);
                random.nextBytes(data);
                path.app().memory().hostWrite(buffer, data, 0, size);
                path.app().prepare(path.cpu(), i, Aio.PREAD, i * stride, buffer, size, i);
            }
            run.runBatch(depth);
            run.runBatch(depth);
            ModelledIo m = new ModelledIo(placement, size, depth, path, () -> run.runBatch(depth));
            for (int i = 0; i < depth; i++) {
                if (path.app().result(i) != size) {
                    throw new AssertionError(placement + ": I/O " + i + " returned " + path.app().result(i));
                }
            }
            return m;
        }
    }

    double nsPerIo() {
        return totalPicos / 1000.0 / depth;
    }

    double nsPerIo(CostPart part) {
        return partPicos[part.ordinal()] / 1000.0 / depth;
    }

    double crossingsPerIo() {
        return (double) crossings / depth;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "%s %d B depth %d: %.1f ns/IO, %.2f crossings/IO,"
            + " %.2f TLB misses/IO, %.2f IOTLB misses/IO, %.0f B copied/IO:", placement, size, depth, nsPerIo(), crossingsPerIo(),
            (double) tlbMisses / depth, (double) iotlbMisses / depth, (double) bytesCopied / depth));
        for (CostPart p : CostPart.values()) {
            if (partPicos[p.ordinal()] != 0) {
                b.append(String.format(java.util.Locale.ROOT, " %s=%.1f", p.key(), nsPerIo(p)));
            }
        }
        return b.toString();
    }
}
