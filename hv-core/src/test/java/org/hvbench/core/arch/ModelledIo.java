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
        Cpu[] cpus = path.cpus();
        long picos = path.modelledPicos();
        long[] parts = new long[CostPart.COUNT];
        for (CostPart p : CostPart.values()) {
            parts[p.ordinal()] = path.modelledPicos(p);
        }
        long[] kinds = new long[crossingsByKind.length];
        long idle = 0;
        long misses = 0;
        long levels = 0;
        long copied = 0;
        for (Cpu c : cpus) {
            for (org.hvbench.core.cpu.Crossing k : org.hvbench.core.cpu.Crossing.values()) {
                kinds[k.ordinal()] += c.trace().count(k);
            }
            idle += c.trace().idleSwitches();
            misses += c.tlb().misses();
            levels += c.walkLevels();
            copied += c.bytesCopied();
        }
        long ioMisses = path.machine().iommu().iotlb().misses();
        long ioInvalidations = path.machine().iommu().invalidations();
        long ioBatches = path.machine().iommu().batches();
        long moved = path.machine().device().bytesMoved();
        long faulted = 0;
        for (Cpu c : cpus) {
            faulted += c.faults();
        }
        long crossed = path.crossings();
        batch.run();
        this.totalPicos = path.modelledPicos() - picos;
        for (CostPart p : CostPart.values()) {
            partPicos[p.ordinal()] = path.modelledPicos(p) - parts[p.ordinal()];
        }
        long idleAfter = 0;
        long missesAfter = 0;
        long levelsAfter = 0;
        long copiedAfter = 0;
        for (Cpu c : cpus) {
            for (org.hvbench.core.cpu.Crossing k : org.hvbench.core.cpu.Crossing.values()) {
                crossingsByKind[k.ordinal()] += c.trace().count(k);
            }
            idleAfter += c.trace().idleSwitches();
            missesAfter += c.tlb().misses();
            levelsAfter += c.walkLevels();
            copiedAfter += c.bytesCopied();
        }
        for (int k = 0; k < kinds.length; k++) {
            crossingsByKind[k] -= kinds[k];
        }
        this.crossings = path.crossings() - crossed;
        this.idleSwitches = idleAfter - idle;
        this.tlbMisses = missesAfter - misses;
        this.walkLevels = levelsAfter - levels;
        this.bytesCopied = copiedAfter - copied;
        this.iotlbMisses = path.machine().iommu().iotlb().misses() - ioMisses;
        this.iotlbInvalidations = path.machine().iommu().invalidations() - ioInvalidations;
        this.iotlbBatches = path.machine().iommu().batches() - ioBatches;
        this.deviceBytes = path.machine().device().bytesMoved() - moved;
        long faultedAfter = 0;
        for (Cpu c : cpus) {
            faultedAfter += c.faults();
        }
        this.walkFaults = faultedAfter - faulted;
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
