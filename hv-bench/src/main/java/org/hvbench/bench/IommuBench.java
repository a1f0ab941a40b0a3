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
 * <li>{@code translate}: one DMA address translated, translations per second. With {@code hit}
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
 * Both run in throughput mode and report {@link OpCounters} (an operation is one translation, or one
 * map, access and unmap): IOTLB misses and modelled ns of the IOMMU's own clock; crossings, TLB misses
 * and notifications are zero, as no CPU runs here.
 *
 * <p>Each iteration ends with a check, or the run fails: every translation returned the machine
 * address the page was mapped to (the I/O address itself for {@code off}, the buffer for
 * {@code mapUnmap}), {@code hit} missed the IOTLB never and {@code miss} on every translation; for
 * {@code mapUnmap}, every unmap was invalidated or is queued for the deferred flush, the last unmapped
 * I/O address no longer translates (after that flush, when deferred), and an excluded frame is refused.
 */
@State(Scope.Thread)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class IommuBench {
    /** The device whose DMAs are translated; package-private so a test can block it. */
    static final int DEVICE = 1;
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
        CoreMeter meter;
        long[] iovas;
        /** The machine address each I/O address must translate to. */
        long[] expectedMas;
        int mask;
        int next;
        // Per iteration: translations that did not give the expected address; the IOMMU's counts at the start.
        long wrong;
        private long translationsAtStart;
        private long missesAtStart;

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
            expectedMas = new long[pages];
            for (int i = 0; i < pages; i++) {
                // Consecutive I/O pages, spread over the IOTLB's sets; machine pages reused as needed.
                long iova = (long) (i + 1) << shift;
                long ma = (i % machinePages) << shift;
                int r = table.map(iova, ma, shift, Translation.READ | Translation.WRITE);
                if (r < 0) {
                    throw new IllegalStateException("cannot map I/O page " + i + ": " + r);
                }
                iovas[i] = iova + 64;
                expectedMas[i] = ma + 64;
            }
            mask = pages - 1;
            meter = new CoreMeter(null, iommu.iotlb(), iommu.clock());
            if ("off".equals(iotlb)) {
                iommu.attachIdentity(DEVICE);
                for (int i = 0; i < pages; i++) {
                    iovas[i] = ((long) i << MachineMemory.PAGE_SHIFT) + 64;
                    expectedMas[i] = iovas[i];
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

        @Setup(Level.Iteration)
        public void startIteration() {
            wrong = 0;
            translationsAtStart = iommu.translations();
            missesAtStart = iommu.iotlb().misses();
        }

        /**
         * Fails the run unless every translation of the iteration gave its page's machine address and
         * the IOTLB hit or missed as {@code iotlb} names.
         */
        @TearDown(Level.Iteration)
        public void checkIteration() {
            String what = "translate iotlb=" + iotlb + ", levels=" + levels + ", pageSize=" + pageSize + ": ";
            long translations = iommu.translations() - translationsAtStart;
            long misses = iommu.iotlb().misses() - missesAtStart;
            if (translations == 0) {
                throw new IllegalStateException(what + "no translation in the iteration");
            }
            if (wrong != 0) {
                throw new IllegalStateException(what + wrong + " of " + translations + " translations did not give the mapped machine address");
            }
            long expectedMisses = "miss".equals(iotlb) ? translations : 0;
            if (misses != expectedMisses) {
                throw new IllegalStateException(what + misses + " IOTLB misses in " + translations + " translations, not " + expectedMisses);
            }
        }

        @TearDown(Level.Trial)
        public void free() {
            memory.close();
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public long translate(Translate s, OpCounters c) {
        int i = s.next;
        s.next = (i + 1) & s.mask;
        s.meter.begin(0);
        long ma = s.iommu.translate(DEVICE, s.iovas[i], Translation.READ);
        s.meter.end(c, 1, 0);
        if (ma != s.expectedMas[i]) {
            s.wrong++;
        }
        return ma;
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
        CoreMeter meter;
        long[] buffers;
        int next;
        /** A frame of the exclusion vector (exclusion only): no DMA may reach it. */
        private long excludedMa = -1;
        // Per iteration: operations, DMAs that did not reach their buffer, the last I/O address unmapped,
        // and the IOMMU's and mapper's counts at the start.
        long ops;
        long wrong;
        long lastBus = -1;
        private long invalidationsAtStart;
        private long pendingAtStart;
        private long unmapsAtStart;
        private long staleAtStart;

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
                    excludedMa = (first + 64 + i) << MachineMemory.PAGE_SHIFT;
                }
            }
            meter = new CoreMeter(null, iommu.iotlb(), iommu.clock());
        }

        @Setup(Level.Iteration)
        public void startIteration() {
            ops = 0;
            wrong = 0;
            invalidationsAtStart = iommu.invalidations();
            pendingAtStart = iommu.pendingUnmaps();
            unmapsAtStart = mapper == null ? 0 : mapper.unmaps();
            staleAtStart = iommu.staleSuccesses();
        }

        /**
         * Fails the run unless every DMA of the iteration reached its buffer and the protection did
         * what it names: each unmap invalidated (strict) or queued (deferred), nothing left mapped, the
         * last unmapped address refused (after the deferred flush), an excluded frame refused.
         */
        @TearDown(Level.Iteration)
        public void checkIteration() {
            String what = "mapUnmap protection=" + protection + ": ";
            if (ops == 0) {
                throw new IllegalStateException(what + "no DMA in the iteration");
            }
            if (wrong != 0) {
                throw new IllegalStateException(what + wrong + " of " + ops + " DMAs did not reach their buffer's machine address");
            }
            if (excludedMa >= 0 && iommu.translate(DEVICE, excludedMa, Translation.WRITE) >= 0) {
                throw new IllegalStateException(what + "a DMA reached an excluded frame");
            }
            if (mapper == null) {
                return;
            }
            long unmaps = mapper.unmaps() - unmapsAtStart;
            long settled = iommu.invalidations() - invalidationsAtStart + iommu.pendingUnmaps() - pendingAtStart;
            if (unmaps != ops || settled != unmaps) {
                throw new IllegalStateException(what + ops + " DMAs, " + unmaps + " unmaps, " + settled
                    + " of them invalidated or queued for the deferred flush");
            }
            if (mapper.mappedPages() != 0) {
                throw new IllegalStateException(what + mapper.mappedPages() + " pages left mapped");
            }
            if ("strict".equals(protection) && iommu.staleSuccesses() != staleAtStart) {
                throw new IllegalStateException(what + (iommu.staleSuccesses() - staleAtStart) + " DMAs reached a page after its unmap");
            }
            if ("deferred".equals(protection)) {
                iommu.flush(); // the deferred window ends at the flush: only then must the old address be refused
            }
            if (iommu.translate(DEVICE, lastBus, Translation.WRITE) >= 0) {
                throw new IllegalStateException(what + "I/O address 0x" + Long.toHexString(lastBus) + " still translates after its unmap"
                    + ("deferred".equals(protection) ? " and the flush" : ""));
            }
        }

        @TearDown(Level.Trial)
        public void free() {
            memory.close();
        }
    }

    /**
     * What the protection did beyond {@link OpCounters}, as rates: divide by {@code ops} for
     * per-operation values.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class ProtectionCounters {
        /** IOTLB pages invalidated. */
        public long invalidations;
        /** DMAs that reached a page after its unmap (the deferred window). */
        public long staleSuccesses;

        @Setup(Level.Iteration)
        public void clear() {
            invalidations = 0;
            staleSuccesses = 0;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public long mapUnmap(Protection s, OpCounters c, ProtectionCounters p) {
        Iommu iommu = s.iommu;
        long invalidations = iommu.invalidations();
        long stale = iommu.staleSuccesses();
        s.meter.begin(0);
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
            s.lastBus = bus;
        }
        s.meter.end(c, 1, 0);
        if (result < 0) {
            throw new IllegalStateException("protection=" + s.protection + ": a mapped DMA was refused");
        }
        if (result != ma) {
            s.wrong++;
        }
        s.ops++;
        p.invalidations += iommu.invalidations() - invalidations;
        p.staleSuccesses += iommu.staleSuccesses() - stale;
        return result;
    }
}
