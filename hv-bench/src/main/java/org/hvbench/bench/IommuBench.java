package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.iommu.DmaMapper;
import org.hvbench.core.iommu.InvalidationMode;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;
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
 * The IOMMU on its own, with the machine's IOTLB geometry (16 sets x 4 ways, the 64 entries
 * pcie-bench found on Intel parts).
 * <ul>
 * <li>{@code translate}: one DMA address translated, nanoseconds per translation. With {@code hit}
 *     the accesses cycle over 32 pages that stay in the IOTLB; with {@code miss} over 256 pages, so
 *     every access walks the I/O page table ({@code levels} deep; fewer reads for superpages).
 *     Set-up checks that the pattern hits or misses as named.</li>
 * <li>{@code mapUnmap}: one DMA's protection life cycle, as a driver pays it per transfer: map the
 *     page (Linux's {@code dma_map_page}), one device access through the IOMMU, unmap, under
 *     {@code none} (identity: no map, no check), {@code exclusion} (no map, a bitmap check),
 *     {@code strict} (each unmap invalidates the IOTLB) or {@code deferred} (unmaps invalidated 256
 *     at a time). Operations per second; the counters give modelled ns, IOTLB misses, invalidations
 *     and DMAs that reached a page after its unmap, each per operation when divided by {@code ops}.</li>
 * </ul>
 */
@State(Scope.Thread)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class IommuBench {
    private static final int DEVICE = 1;
    private static final int TAG = 1;

    /** Translation of one DMA address. */
    @State(Scope.Thread)
    public static class Translate {
        /** I/O page-table levels: 3, 4 or 5. */
        @Param({"3", "4", "5"})
        public int levels;

        /** I/O page size: 4k, 2m or 1g (a 1g run gives the machine 1 GiB of memory). */
        @Param({"4k", "2m", "1g"})
        public String pageSize;

        /**
         * hit (32 pages, all held by the IOTLB), miss (256 pages, none held), or off (the device in
         * identity mode: no translation, the floor of the harness and the dispatch).
         */
        @Param({"hit", "miss", "off"})
        public String iotlb;

        MachineMemory memory;
        Iommu iommu;
        long[] iovas;
        int mask;
        int next;

        @Setup(Level.Trial)
        public void build() {
            int shift;
            switch (pageSize) {
                case "4k": shift = PageTable.SHIFT_4K; break;
                case "2m": shift = PageTable.SHIFT_2M; break;
                case "1g": shift = PageTable.SHIFT_1G; break;
                default: throw new IllegalArgumentException("pageSize: '" + pageSize + "' is unknown; use 4k, 2m or 1g");
            }
            PageTable.checkLevels(levels);
            int pages;
            switch (iotlb) {
                case "hit": pages = 32; break;
                case "miss": pages = 256; break;
                case "off": pages = 32; break;
                default: throw new IllegalArgumentException("iotlb: '" + iotlb + "' is unknown; use hit, miss or off");
            }
            memory = new MachineMemory(shift == PageTable.SHIFT_1G ? MachineMemory.MAX_BYTES : 64L << 20);
            FrameAllocator frames = new FrameAllocator(memory);
            PageTable table = new PageTable(frames, levels, FrameAllocator.OWNER_HYPERVISOR);
            iommu = new Iommu(memory, CostProfile.load("current-x86"), new Tlb(16, 4, true), InvalidationMode.STRICT, 256, 1024);
            iommu.attachTable(DEVICE, table, TAG);
            long machinePages = memory.bytes() >>> shift;
            iovas = new long[pages];
            for (int i = 0; i < pages; i++) {
                // Consecutive I/O pages, spread over the IOTLB's sets; machine pages reused as needed.
                long iova = (long) (i + 1) << shift;
                long ma = (i % machinePages) << shift;
                int r = table.map(iova, ma, shift, Translation.READ | Translation.WRITE);
                if (r < 0) {
                    throw new IllegalStateException("cannot map I/O page " + i + ": " + r);
                }
                iovas[i] = iova + 64;
            }
            mask = pages - 1;
            if ("off".equals(iotlb)) {
                iommu.attachIdentity(DEVICE);
                for (int i = 0; i < pages; i++) {
                    iovas[i] = ((long) i << MachineMemory.PAGE_SHIFT) + 64;
                }
                return;
            }
            // Check that the access pattern does what its name says.
            for (long iova : iovas) {
                iommu.translate(DEVICE, iova, Translation.READ);
            }
            long misses = iommu.iotlb().misses();
            for (long iova : iovas) {
                if (iommu.translate(DEVICE, iova, Translation.READ) < 0) {
                    throw new IllegalStateException("I/O page 0x" + Long.toHexString(iova) + " does not translate");
                }
            }
            long second = iommu.iotlb().misses() - misses;
            if (second != ("hit".equals(iotlb) ? 0 : pages)) {
                throw new IllegalStateException("iotlb=" + iotlb + ": " + second + " misses in a pass over " + pages + " pages");
            }
        }

        @TearDown(Level.Trial)
        public void free() {
            memory.close();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long translate(Translate s) {
        long iova = s.iovas[s.next];
        s.next = (s.next + 1) & s.mask;
        return s.iommu.translate(DEVICE, iova, Translation.READ);
    }

    /** One DMA's map, access and unmap under a protection scheme. */
    @State(Scope.Thread)
    public static class Protection {
        /** none, exclusion, strict or deferred. */
        @Param({"none", "exclusion", "strict", "deferred"})
        public String protection;

        MachineMemory memory;
        Iommu iommu;
        DmaMapper mapper;
        long[] buffers;
        int next;

        @Setup(Level.Trial)
        public void build() {
            memory = new MachineMemory(64L << 20);
            FrameAllocator frames = new FrameAllocator(memory);
            InvalidationMode mode = "deferred".equals(protection) ? InvalidationMode.DEFERRED : InvalidationMode.STRICT;
            iommu = new Iommu(memory, CostProfile.load("current-x86"), new Tlb(16, 4, true), mode, 256, 1024);
            switch (protection) {
                case "none":
                    iommu.attachIdentity(DEVICE);
                    break;
                case "exclusion":
                    iommu.attachExclusion(DEVICE);
                    break;
                case "strict":
                case "deferred":
                    PageTable table = new PageTable(frames, 4, FrameAllocator.OWNER_HYPERVISOR);
                    iommu.attachTable(DEVICE, table, TAG);
                    mapper = new DmaMapper(iommu, table, TAG);
                    break;
                default:
                    throw new IllegalArgumentException("protection: '" + protection + "' is unknown; use none, exclusion,"
                        + " strict or deferred");
            }
            // 64 buffer pages, as a driver's ring of receive buffers would be.
            buffers = new long[64];
            long first = frames.allocateContiguous(64, 1, 1);
            for (int i = 0; i < buffers.length; i++) {
                buffers[i] = (first + i) << MachineMemory.PAGE_SHIFT;
                if ("exclusion".equals(protection) && i % 2 == 1) {
                    iommu.exclude(first + 64 + i); // a sparse vector, as the hypervisor's frames would be
                }
            }
        }

        @TearDown(Level.Trial)
        public void free() {
            memory.close();
        }
    }

    /** What the protection did, as rates: divide by {@code ops} for per-operation values. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class ProtectionCounters {
        public long ops;
        public double modelledNs;
        public long iotlbMisses;
        public long invalidations;
        public long staleSuccesses;

        @Setup(Level.Iteration)
        public void clear() {
            ops = 0;
            modelledNs = 0;
            iotlbMisses = 0;
            invalidations = 0;
            staleSuccesses = 0;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public long mapUnmap(Protection s, ProtectionCounters c) {
        Iommu iommu = s.iommu;
        long picos = iommu.clock().picos();
        long misses = iommu.iotlb().misses();
        long invalidations = iommu.invalidations();
        long stale = iommu.staleSuccesses();
        long ma = s.buffers[s.next];
        s.next = (s.next + 1) & 63;
        long result;
        DmaMapper mapper = s.mapper;
        if (mapper == null) {
            result = iommu.translate(DEVICE, ma, Translation.WRITE);
        } else {
            long bus = mapper.map(ma, Translation.WRITE);
            result = iommu.translate(DEVICE, bus, Translation.WRITE);
            mapper.unmap(bus);
        }
        if (result < 0) {
            throw new IllegalStateException("protection=" + s.protection + ": a mapped DMA was refused");
        }
        c.ops++;
        c.modelledNs += (iommu.clock().picos() - picos) / 1000.0;
        c.iotlbMisses += iommu.iotlb().misses() - misses;
        c.invalidations += iommu.invalidations() - invalidations;
        c.staleSuccesses += iommu.staleSuccesses() - stale;
        return result;
    }
}
