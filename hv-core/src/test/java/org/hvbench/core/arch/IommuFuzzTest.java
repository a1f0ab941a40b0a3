package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.Timeout;

/**
 * The IOMMU map and unmap hypercalls and the device's DMA, driven by the owner of a passthrough
 * device that manages its own I/O page table: it maps any I/O address (aligned or not, in range or
 * not) to any guest-physical address (its pages, the pages another domain granted it, its shared-info
 * page, nothing) with any permissions, unmaps any, flushes, and has its device DMA anywhere (its
 * mappings, addresses it just unmapped, machine addresses of a victim domain, any address), in
 * strict and deferred invalidation (the first byte chooses; a small IOTLB so entries are evicted and
 * reused).
 *
 * <p>After every action the hypercall's answer is checked against a model of the table: a map
 * succeeds exactly when the device is the caller's, the addresses are aligned and in range, the page
 * is the caller's own RAM with the permissions asked and the I/O address is free; an unmap exactly
 * when the address is mapped. Every DMA moves exact data to or from the frame the model says, or is
 * refused with {@code -EFAULT} and one entry in the fault log naming the device and the address; it
 * succeeds only where the model maps the address with the access (in deferred mode also where an
 * unmap is not yet flushed: the counted window), and after a strict unmap or a flush no IOTLB entry
 * differs from the table. After every input: nothing escaped; no frame of another domain changed
 * (nor the page tables and shared-info pages of the others), no frame changed hands; the hypervisor's
 * tables pass their audit (the I/O table reaches only the owner's frames, counted); and the owner's
 * own well-formed DMA moves exact data.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz: {@code scripts/fuzz.sh iommu}.
 */
class IommuFuzzTest {
    private static final long DISK_BYTES = 1L << 20;
    private static final int DEVICE = Machine.BLOCK_DEVICE_ID;
    static final int DATA_PAGES = 16;
    /** I/O addresses the fuzzer maps: pages 0 to 63 from 0. */
    static final int IOVA_PAGES = 64;
    /** Where the owner keeps its queues and its own check buffer: out of the fuzzer's reach but through raw values. */
    static final long QUEUE_IOVA = 1L << 40;
    static final int ENTRIES = 16;
    private static final Fixture[] FIXTURES = new Fixture[2];

    // Actions and choices, as FuzzSeeds writes them.
    static final int MAP = 0;
    static final int UNMAP = 1;
    static final int FLUSH = 2;
    static final int OTHER = 3;
    static final int DMA = 4;
    static final int STORE = 5;
    static final int RUN = 6;
    static final int ACTIONS = 7;
    static final int IOVA_PAGE = 0;
    static final int IOVA_UNALIGNED = 1;
    static final int IOVA_EDGE = 2;
    static final int IOVA_RAW = 3;
    static final int IOVAS = 4;
    static final int GPA_DATA = 0;
    static final int GPA_RAM = 1;
    static final int GPA_GRANTED = 2;
    static final int GPA_SHARED_INFO = 3;
    static final int GPA_OUTSIDE = 4;
    static final int GPA_RAW = 5;
    static final int GPAS = 6;
    static final int DMA_MAPPED = 0;
    static final int DMA_PAGE = 1;
    static final int DMA_UNMAPPED = 2;
    static final int DMA_VICTIM = 3;
    static final int DMA_RAW = 4;
    static final int DMAS = 5;
    /** What the model says of one page-sized part of a DMA: mapped for the access, stale (deferred), or refused. */
    private static final long PART_MAPPED = 0;
    private static final long PART_STALE = 1;
    private static final long PART_REFUSED = 2;

    /** A mapping the model holds: the frame and the permissions. */
    static final class Io {
        final long ma;
        final int permissions;

        Io(long ma, int permissions) {
            this.ma = ma;
            this.permissions = permissions;
        }
    }

    static final class Fixture {
        final boolean deferred;
        final IoPath path;
        final Hypervisor hv;
        final Machine machine;
        final MachineMemory memory;
        final Iommu iommu;
        final BlockDevice device;
        final Cpu cpu;
        final Domain owner;
        final Domain victim;
        final DomainMemory os;
        final long[] data = new long[DATA_PAGES];
        final long sq;
        final long cq;
        final int queuePages;
        final long checkPage;
        final long[] victimFrames;
        final InlineExecutor executor;
        final IsolationGuard guard;
        final GrantOps grants;
        QueueProducer submissions;
        QueueConsumer completions;
        final TreeMap<Long, Io> mapped = new TreeMap<>();
        /** Deferred mode: pages unmapped since the last flush, and what they mapped. */
        final TreeMap<Long, Io> unflushed = new TreeMap<>();
        final List<Long> faults = new ArrayList<>();
        int tag;

        Fixture(boolean deferred) {
            this.deferred = deferred;
            MachineConfig config = MachineConfig.defaults().memory(24L << 20).diskBytes(DISK_BYTES).iotlb(4, 2)
                .iommuInvalidation(deferred ? "deferred" : "strict").iommuBatch(8);
            path = Placement.PASSTHROUGH.open(config, 1);
            PassthroughPlacement p = (PassthroughPlacement) path;
            hv = p.hypervisor();
            machine = path.machine();
            memory = machine.memory();
            iommu = machine.iommu();
            device = machine.device();
            cpu = path.cpu();
            owner = p.guest();
            os = (DomainMemory) path.app().memory();
            grants = new GrantOps(hv);

            // A victim beside it grants it one page read-write and one read-only, mapped in its window.
            victim = hv.createDomain("victim", "victim", 1L << 20, false);
            DomainMemory v = new DomainMemory(victim, memory);
            byte[] marks = new byte[(int) victim.memoryBytes() - MachineMemory.PAGE_SIZE];
            new java.util.Random(5).nextBytes(marks);
            cpu.start(victim.kernel());
            GrantTable table = new GrantTable(memory, cpu.view(victim.space()), v.allocate(1), 1);
            assertTrue(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, table.tableGpa(), 1, 0) > 0);
            long rw = v.allocate(1);
            long ro = v.allocate(1);
            v.hostWrite(rw, marks, 0, 2 * MachineMemory.PAGE_SIZE);
            assertEquals(0, table.grant(1, owner.id(), rw >>> 12, false));
            assertEquals(0, table.grant(2, owner.id(), ro >>> 12, true));
            cpu.start(owner.kernel());
            long ops = os.allocate(1);
            for (int ref = 1; ref <= 2; ref++) {
                long op = os.hostTranslate(ops) + (ref - 1) * GrantOps.MAP_BYTES;
                memory.putLong(op + GrantOps.MAP_HOST, owner.windowStart() + (ref - 1) * (long) MachineMemory.PAGE_SIZE);
                memory.putInt(op + GrantOps.MAP_FLAGS, ref == 2 ? GrantOps.MAP_READONLY : 0);
                memory.putInt(op + GrantOps.MAP_REF, ref);
                memory.putShort(op + GrantOps.MAP_DOM, (short) victim.id());
            }
            assertEquals(0, hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, ops, 2, 0));
            assertEquals(0, memory.getShort(os.hostTranslate(ops) + GrantOps.MAP_STATUS + GrantOps.MAP_BYTES));
            List<Long> frames = new ArrayList<>();
            for (int mfn = 0; mfn < machine.frames().frames(); mfn++) {
                if (machine.frames().owner(mfn) == victim.id()) {
                    frames.add((long) mfn << MachineMemory.PAGE_SHIFT);
                }
            }
            victimFrames = frames.stream().mapToLong(Long::longValue).toArray();

            // The owner takes the device's I/O table and puts its queues in it.
            for (int i = 0; i < DATA_PAGES; i++) {
                data[i] = os.allocate(1);
            }
            queuePages = MemoryQueue.pages(BlockCommand.BYTES, ENTRIES);
            sq = os.allocate(queuePages);
            cq = os.allocate(1);
            checkPage = os.allocate(1);
            assertEquals(0, hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_OWN_TABLE, DEVICE, 0, 0));
            tag = iommu.tableTag(DEVICE);
            executor = new InlineExecutor(path);
            ensureQueues();
            guard = new IsolationGuard(machine, new int[] {owner.id()}, out -> {
                IsolationGuard.tableFrames(machine, hv.space().table(), out);
                IsolationGuard.domainFrames(machine, hv.dom0(), out);
                IsolationGuard.domainFrames(machine, victim, out);
            }, 0, DISK_BYTES);
            FuzzChecks.runUntilIdle(path, executor);
            guard.snapshot();
        }

        long map(long iova, long gpa, int permissions) {
            cpu.start(owner.kernel());
            return hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_MAP, DEVICE, iova, gpa | permissions);
        }

        long unmap(long iova) {
            cpu.start(owner.kernel());
            return hv.hypercall(cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_UNMAP, DEVICE, iova, 0);
        }

        /** The owner's queues and check page mapped at their I/O addresses and the device running on them. */
        void ensureQueues() {
            boolean remapped = false;
            for (int i = 0; i <= queuePages + 1; i++) {
                long iova = QUEUE_IOVA + ((long) i << MachineMemory.PAGE_SHIFT);
                long gpa = i < queuePages ? sq + ((long) i << 12) : i == queuePages ? cq : checkPage;
                long ma = os.hostTranslate(gpa);
                Io io = mapped.get(iova);
                if (io != null && io.ma == ma && io.permissions == Translation.PERMISSIONS) {
                    continue;
                }
                if (io != null) {
                    assertEquals(0, unmap(iova));
                    mapped.remove(iova);
                    unflushed.put(iova, io);
                }
                assertEquals(0, map(iova, gpa, Translation.PERMISSIONS));
                mapped.put(iova, new Io(ma, Translation.PERMISSIONS));
                unflushed.remove(iova);
                remapped = remapped || i <= queuePages;
            }
            if (remapped || submissions == null || device.failed() || !device.enabled()) {
                byte[] zero = new byte[(queuePages + 1) * MachineMemory.PAGE_SIZE];
                os.hostWrite(sq, zero, 0, zero.length);
                device.mmioWrite(BlockDevice.REG_CONTROL, 0);
                device.mmioWrite(BlockDevice.REG_SQ_BASE, QUEUE_IOVA);
                device.mmioWrite(BlockDevice.REG_CQ_BASE, QUEUE_IOVA + ((long) queuePages << 12));
                device.mmioWrite(BlockDevice.REG_ENTRIES, ENTRIES);
                assertEquals(0, device.mmioWrite(BlockDevice.REG_CONTROL, 1));
                submissions = new QueueProducer(memory, cpu.view(owner.space()), sq, BlockCommand.BYTES, ENTRIES);
                completions = new QueueConsumer(memory, cpu.view(owner.space()), cq, BlockCommand.COMPLETION_BYTES, ENTRIES);
            }
        }

        /** One command of one segment: the bytes moved, or a negative errno. Faults the IOMMU logged for it go to {@link #faults}. */
        int dma(boolean read, long sector, long iova, int length) {
            ensureQueues();
            long slot = submissions.slot(0);
            memory.putByte(slot + BlockCommand.OPCODE, (byte) (read ? BlockCommand.OP_READ : BlockCommand.OP_WRITE));
            memory.putByte(slot + BlockCommand.SEGMENT_COUNT, (byte) 1);
            memory.putInt(slot + BlockCommand.TAG, 7);
            memory.putLong(slot + BlockCommand.SECTOR, sector);
            memory.putLong(slot + BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_ADDRESS, iova);
            memory.putInt(slot + BlockCommand.segmentOffset(0) + BlockCommand.SEGMENT_LENGTH, length);
            submissions.publish(1);
            device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
            assertEquals(1, device.doWork(), "the device took the command");
            FuzzChecks.runUntilIdle(path, executor);
            assertEquals(1, completions.available(), "one completion");
            int status = memory.getInt(completions.slot(0) + BlockCommand.COMPLETION_STATUS);
            int moved = memory.getInt(completions.slot(0) + BlockCommand.COMPLETION_LENGTH);
            completions.consume(1);
            faults.clear();
            iommu.faults().drain((dev, address, access) -> {
                assertEquals(DEVICE, dev, "the fault names the device");
                faults.add(address);
            });
            return status < 0 ? status : moved;
        }

        /**
         * Zeroes, in both arrays, the bytes of frame {@code ma} from {@code offset} on that the device itself writes
         * after a transfer: its consumer index in the submission queue's first page, the completion queue page.
         * An owner that maps its own queues as a data buffer sees them overwritten; that is its business, not isolation.
         */
        void maskDeviceWritesAfterTheTransfer(long ma, int offset, byte[] expected, byte[] mem) {
            boolean completionPage = ma == os.hostTranslate(cq);
            boolean submissionHead = ma == os.hostTranslate(sq);
            for (int i = 0; i < mem.length; i++) {
                int at = offset + i;
                if (completionPage || submissionHead && at >= MemoryQueue.CONSUMER_OFFSET && at < MemoryQueue.MIN_SLOTS_OFFSET) {
                    expected[i] = 0;
                    mem[i] = 0;
                }
            }
        }

        long iova(FuzzInput in) {
            switch (in.below(IOVAS)) {
                case IOVA_PAGE: return (long) in.below(IOVA_PAGES) << MachineMemory.PAGE_SHIFT;
                case IOVA_UNALIGNED: return ((long) in.below(IOVA_PAGES) << MachineMemory.PAGE_SHIFT) + 1 + in.below(4095);
                case IOVA_EDGE: return in.pick(-4096, -1, 1L << 48, (1L << 48) - 4096, Long.MIN_VALUE, QUEUE_IOVA);
                default: return in.i64();
            }
        }

        long gpa(FuzzInput in) {
            switch (in.below(GPAS)) {
                case GPA_DATA: return data[in.below(DATA_PAGES)];
                case GPA_RAM: return (long) in.below(owner.pages()) << MachineMemory.PAGE_SHIFT;
                case GPA_GRANTED: return owner.windowStart() + ((long) in.below(3) << MachineMemory.PAGE_SHIFT);
                case GPA_SHARED_INFO: return owner.sharedInfoGpa();
                case GPA_OUTSIDE: return owner.memoryBytes() + ((long) in.below(1 << 16) << MachineMemory.PAGE_SHIFT);
                default: return in.i64() & ~(long) Translation.PERMISSIONS;
            }
        }

        /** What a map of {@code gpa} at {@code iova} may do: true when it must succeed. */
        boolean mapAllowed(long iova, long gpa, int permissions) {
            if (permissions == 0 || (iova & MachineMemory.PAGE_MASK) != 0 || iova < 0 || iova >= 1L << 48
                || (gpa & MachineMemory.PAGE_MASK) != 0 || gpa < 0 || gpa >= owner.memoryBytes() || mapped.containsKey(iova)) {
                return false;
            }
            return machine.frames().owner(owner.machineFrame(gpa >>> MachineMemory.PAGE_SHIFT)) == owner.id();
        }

        void auditIotlb(String when) {
            assertNull(iommu.iotlb().audit(tag, memory, iommu.tableRoot(DEVICE), iommu.tableLevels(DEVICE)),
                "the IOTLB " + when);
        }
    }

    private static void dma(Fixture f, FuzzInput in) {
        // The queues first: if the owner unmapped them, they are mapped again now, before the model judges the pages.
        f.ensureQueues();
        long iova;
        switch (in.below(DMAS)) {
            case DMA_MAPPED: {
                List<Long> keys = new ArrayList<>(f.mapped.headMap(QUEUE_IOVA).keySet());
                iova = keys.isEmpty() ? 0 : keys.get(in.below(keys.size()));
                iova += 512L * in.below(8);
                break;
            }
            case DMA_PAGE:
                iova = ((long) in.below(IOVA_PAGES) << MachineMemory.PAGE_SHIFT) + 512L * in.below(8);
                break;
            case DMA_UNMAPPED: {
                List<Long> keys = new ArrayList<>(f.unflushed.keySet());
                iova = keys.isEmpty() ? 0 : keys.get(in.below(keys.size()));
                break;
            }
            case DMA_VICTIM:
                iova = f.victimFrames[in.below(f.victimFrames.length)];
                break;
            default:
                iova = in.i64();
        }
        long target = iova;
        boolean read = in.below(2) == 0;
        int length = 512 * (1 + in.below(8));
        long sector = in.below((int) (DISK_BYTES / 512) - 8);
        int access = read ? Translation.WRITE : Translation.READ;

        // The pages the segment touches, each as the model maps it, may still map it (deferred), or not.
        boolean must = true;
        boolean may = true;
        long firstRefused = 0;
        boolean refusedSeen = false;
        List<long[]> parts = new ArrayList<>();
        long at = iova;
        int left = length;
        while (left > 0) {
            int chunk = (int) Math.min(left, MachineMemory.PAGE_SIZE - (at & MachineMemory.PAGE_MASK));
            long page = at & ~MachineMemory.PAGE_MASK;
            Io now = f.mapped.get(page);
            Io stale = f.unflushed.get(page);
            boolean ok = now != null && (now.permissions & access) != 0;
            boolean staleOk = !ok && now == null && stale != null && (stale.permissions & access) != 0;
            if (!ok && !refusedSeen) {
                firstRefused = at;
                refusedSeen = true;
            }
            must &= ok;
            may &= ok || staleOk;
            parts.add(new long[] {at, chunk, ok ? now.ma : staleOk ? stale.ma : -1, ok ? PART_MAPPED : staleOk ? PART_STALE : PART_REFUSED});
            at += chunk;
            left -= chunk;
        }
        byte[] diskBefore = new byte[length];
        f.machine.backing().peek(sector * 512, diskBefore, 0, length);
        long stale = f.iommu.staleSuccesses();
        int status = f.dma(read, sector, iova, length);
        if (status < 0) {
            assertEquals(-Errno.EFAULT, status, "a refused DMA's status");
            assertTrue(!must, () -> "a DMA the model allows at 0x" + Long.toHexString(target) + " was refused");
            assertEquals(1, f.faults.size(), "one fault logged for the refused DMA");
            long refused = f.faults.get(0);
            // The IOMMU faults on the first part it cannot translate. A stale part (deferred) may still pass
            // from the IOTLB, so the fault may name any part that is not mapped for this access, provided every
            // part before it is mapped or stale; it cannot lie past the first part that is neither.
            boolean named = false;
            for (long[] part : parts) {
                named |= part[0] == refused && part[3] != PART_MAPPED;
                if (part[3] == PART_REFUSED) {
                    break;
                }
            }
            long first = firstRefused;
            assertTrue(named, () -> "the fault names 0x" + Long.toHexString(refused) + ", the first address refused is 0x"
                + Long.toHexString(first));
            if (!read) {
                byte[] now = new byte[length];
                f.machine.backing().peek(sector * 512, now, 0, length);
                assertArrayEquals(diskBefore, now, "a refused write moved no byte to the disk");
            }
            return;
        }
        assertEquals(length, status, "bytes the DMA moved");
        assertTrue(may, () -> "a DMA at 0x" + Long.toHexString(target) + " the model does not map " + (f.deferred ? "nor did before the flush" : "")
            + " went through");
        assertTrue(f.faults.isEmpty(), "no fault logged for a DMA that went through");
        if (!must) {
            assertTrue(f.iommu.staleSuccesses() > stale, "a DMA through an unflushed unmap is counted as stale");
        }
        byte[] disk = new byte[length];
        f.machine.backing().peek(sector * 512, disk, 0, length);
        int done = 0;
        for (long[] part : parts) {
            if (part[0] >= QUEUE_IOVA && part[0] < QUEUE_IOVA + ((long) (f.queuePages + 2) << MachineMemory.PAGE_SHIFT)) {
                done += (int) part[1];
                continue; // the owner's own queues: the completion lands there too
            }
            byte[] mem = new byte[(int) part[1]];
            f.memory.getBytes(part[2] + (part[0] & MachineMemory.PAGE_MASK), mem, 0, mem.length);
            byte[] expected = java.util.Arrays.copyOfRange(disk, done, done + mem.length);
            f.maskDeviceWritesAfterTheTransfer(part[2], (int) (part[0] & MachineMemory.PAGE_MASK), expected, mem);
            assertArrayEquals(expected, mem, () -> "the DMA moved exact data between the disk and frame 0x" + Long.toHexString(part[2]));
            done += mem.length;
        }
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aDeviceOwnerReachesOnlyItsOwnFrames(byte[] input) {
        FuzzInput in = new FuzzInput(input);
        int which = in.below(FIXTURES.length);
        if (FIXTURES[which] == null) {
            FIXTURES[which] = new Fixture(which == 1);
        }
        Fixture f = FIXTURES[which];
        while (in.more()) {
            switch (in.below(ACTIONS)) {
                case MAP: {
                    long iova = f.iova(in);
                    long gpa = f.gpa(in);
                    int permissions = in.below(4);
                    boolean allowed = f.mapAllowed(iova, gpa, permissions);
                    long r = f.map(iova, gpa, permissions);
                    assertEquals(allowed, r == 0, () -> "map of gpa 0x" + Long.toHexString(gpa) + " at 0x" + Long.toHexString(iova)
                        + " permissions " + permissions + ": " + Errno.name(r));
                    if (r == 0) {
                        f.mapped.put(iova, new Io(f.os.hostTranslate(gpa), permissions));
                        f.unflushed.remove(iova);
                    } else if (gpa >= f.owner.memoryBytes() && gpa < f.owner.windowStart() + 3L * MachineMemory.PAGE_SIZE
                        && allowedButForThePage(f, iova, permissions)) {
                        assertTrue(r == -Errno.EPERM || r == -Errno.EFAULT, () -> "a page not the owner's own: " + Errno.name(r));
                    }
                    break;
                }
                case UNMAP: {
                    long iova = f.iova(in);
                    Io io = f.mapped.get(iova);
                    long r = f.unmap(iova);
                    assertEquals(io != null, r == 0, () -> "unmap of 0x" + Long.toHexString(iova) + ": " + Errno.name(r));
                    if (r == 0) {
                        f.mapped.remove(iova);
                        if (f.deferred) {
                            f.unflushed.put(iova, io);
                        } else {
                            f.auditIotlb("right after a strict unmap");
                        }
                    }
                    break;
                }
                case FLUSH:
                    f.cpu.start(f.owner.kernel());
                    assertEquals(0, f.hv.hypercall(f.cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_FLUSH, 0, 0, 0));
                    f.unflushed.clear();
                    f.auditIotlb("right after a flush");
                    break;
                case OTHER: {
                    // Any other command or device: refused, nothing changes.
                    long cmd = in.below(2) == 0 ? Hypercall.IOMMU_OWN_TABLE : 4 + in.u8();
                    long device = in.below(2) == 0 ? DEVICE : in.i32();
                    f.cpu.start(f.owner.kernel());
                    long r = f.hv.hypercall(f.cpu, Hypercall.IOMMU_OP, cmd, device, f.iova(in), f.gpa(in) | in.below(4));
                    assertTrue(r < 0, () -> "iommu_op " + cmd + " on device " + device + " is refused: " + Errno.name(r));
                    break;
                }
                case DMA:
                    dma(f, in);
                    break;
                case STORE:
                    FuzzChecks.store(f.cpu, f.owner, f.data[in.below(DATA_PAGES)] + in.u16() % MachineMemory.PAGE_SIZE, in.bytes(512));
                    break;
                default:
                    FuzzChecks.runUntilIdle(f.path, f.executor);
            }
        }
        FuzzChecks.runUntilIdle(f.path, f.executor);

        f.guard.assertUnchanged("after the device owner's turn");
        FuzzChecks.auditHypervisor(f.hv, f.path.cpus());
        assertNull(f.grants.audit(), "grant maptrack and pins");
        if (f.deferred) {
            f.cpu.start(f.owner.kernel());
            assertEquals(0, f.hv.hypercall(f.cpu, Hypercall.IOMMU_OP, Hypercall.IOMMU_FLUSH, 0, 0, 0));
            f.unflushed.clear();
        }
        f.auditIotlb("once flushed");
        assertEquals(0, f.iommu.staleSinceFlush(), "stale DMAs after the flush");

        // The owner's own DMA through its check page: a write of known bytes, then a read into a clean page.
        byte[] expected = new byte[MachineMemory.PAGE_SIZE];
        new java.util.Random(input.length).nextBytes(expected);
        f.os.hostWrite(f.checkPage, expected, 0, expected.length);
        long check = QUEUE_IOVA + ((long) (f.queuePages + 1) << MachineMemory.PAGE_SHIFT);
        assertEquals(expected.length, f.dma(false, 64, check, expected.length), "the owner's write");
        f.os.hostWrite(f.checkPage, new byte[expected.length], 0, expected.length);
        assertEquals(expected.length, f.dma(true, 64, check, expected.length), "the owner's read");
        assertArrayEquals(expected, f.os.hostRead(f.checkPage, expected.length), "the owner's data");
        f.guard.snapshot();
    }

    /** True when a map at {@code iova} with {@code permissions} would be allowed were the page the owner's. */
    private static boolean allowedButForThePage(Fixture f, long iova, int permissions) {
        return permissions != 0 && (iova & MachineMemory.PAGE_MASK) == 0 && iova >= 0 && iova < 1L << 48 && !f.mapped.containsKey(iova);
    }
}
