package org.hvbench.core.iommu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;

import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.cpu.VirtualClock;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.PageWalker;
import org.hvbench.core.mem.Tlb;
import org.hvbench.core.mem.Translation;

/**
 * The IOMMU: every DMA of every device is looked up in a context table by device id, and then, by the
 * context's kind, passed through (identity, no protection), checked against the exclusion vector (a
 * bitmap of frames no device may touch: protection without translation, the cheaper scheme of the
 * DMA exclusion vector), translated through an I/O page table (the same radix format and walker as
 * the CPU side, cached in an IOTLB tagged by context), or refused (blocked). A refused DMA reads and
 * writes nothing and is recorded in the {@link FaultLog}.
 *
 * <p>A context's table is either its own (filled by its driver through {@link DmaMapper} or by the
 * hypervisor's IOMMU hypercalls) or the p2m of the domain that owns the device (Xen's shared EPT:
 * IOVA = guest-physical), in which case the domain's grant mappings reach its device too.
 *
 * <p>Invalidation ({@link InvalidationMode}): strict invalidates every unmapped page before
 * {@link #unmap} returns; deferred queues unmapped pages and invalidates them a batch at a time. In
 * that window an IOTLB hit can still reach an unmapped page; each such DMA is counted as a stale
 * success ({@link #staleSuccesses}) rather than hidden.
 *
 * <p>Modelled time: each IOTLB miss charges the profile's IOTLB miss and a walk, each invalidation a
 * TLB flush, on this IOMMU's own clock.
 *
 * <p>Threads: in the inline executor one thread does everything. In the threaded executor the device's
 * thread owns the IOTLB and the deferred queue ({@link #setOwner}); a CPU's thread posts its
 * invalidations to a single-producer ring that the owner applies before its next translation and
 * when it serves a doorbell (VT-d's queued invalidation). Strict invalidations and flushes wait until
 * applied, so when {@link #unmap} returns the device can no longer use the old entry; deferred ones
 * and the re-map check do not wait, but are still applied before the device's next translation. One
 * CPU thread may post at a time (a second one is refused loudly, not raced).
 */
public final class Iommu implements DmaTranslation, MessageHandler {
    public static final int MAX_DEVICES = 256;
    private static final VarHandle POSTED;
    private static final VarHandle APPLIED;
    private static final VarHandle POSTER;
    private static final VarHandle SECURED_FRAMES;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            POSTED = lookup.findVarHandle(Iommu.class, "posted", long.class);
            APPLIED = lookup.findVarHandle(Iommu.class, "applied", long.class);
            POSTER = lookup.findVarHandle(Iommu.class, "poster", Thread.class);
            SECURED_FRAMES = lookup.findVarHandle(Iommu.class, "securedFrames", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** How long a CPU waits for the device's thread to apply an invalidation before it gives up loudly. */
    static final long APPLY_TIMEOUT_NANOS = 10_000_000_000L;
    private static final int OP_INVALIDATE = 1;
    private static final int OP_INVALIDATE_NOW = 2;
    private static final int OP_MAPPING = 3;
    private static final int OP_FLUSH = 4;
    private static final int REQUEST_BYTES = 16;

    private static final int BLOCKED = 0;
    private static final int IDENTITY = 1;
    private static final int TRANSLATE = 2;
    private static final int EXCLUSION = 3;

    private final MachineMemory memory;
    private final CostProfile profile;
    private final VirtualClock clock = new VirtualClock();
    private final Tlb iotlb;
    private final FaultLog faults;
    private final InvalidationMode mode;
    private final int batch;
    private final int[] kind = new int[MAX_DEVICES];
    private final long[] root = new long[MAX_DEVICES];
    private final int[] levels = new int[MAX_DEVICES];
    private final int[] tag = new int[MAX_DEVICES];
    private final long[] excluded;
    /**
     * Frames no device may reach whatever its context (a dynamic launch's secure loader, as SKINIT's
     * device exclusion vector protects it), and how many there are: written by the launching CPU, the
     * count last with release; a translation reads the count with acquire before the bits.
     */
    private final long[] secured;
    @SuppressWarnings("unused") // through SECURED_FRAMES
    private int securedFrames;

    // Deferred unmaps: (tag, page) key -> slot in pendingList, which keeps them in order; a slot
    // whose page was mapped again before the flush is cleared to 0.
    private final Long2LongHashMap pendingSet;
    private final long[] pendingList;
    private int pendingSlots;

    // Requests from a CPU's thread to the owner (threaded executor only).
    private final OneToOneRingBuffer requests =
        new OneToOneRingBuffer(new UnsafeBuffer(ByteBuffer.allocateDirect(8192 + RingBufferDescriptor.TRAILER_LENGTH)));
    private final BooleanSupplier appliedAll = () -> (long) APPLIED.getAcquire(this) >= (long) POSTED.getAcquire(this);
    private volatile Thread owner;
    private volatile Runnable ownerWakeup;
    @SuppressWarnings("unused") // accessed through POSTER
    private volatile Thread poster;
    @SuppressWarnings("unused") // accessed through POSTED
    private volatile long posted;
    @SuppressWarnings("unused") // accessed through APPLIED
    private volatile long applied;

    private long translations;
    private long refused;
    private long staleSuccesses;
    private long staleSinceFlush;
    private long invalidations;
    private long batches;

    /**
     * @param deferredBatch unmaps queued before a deferred flush (Linux's flush queue holds 256)
     */
    public Iommu(MachineMemory memory, CostProfile profile, Tlb iotlb, InvalidationMode mode, int deferredBatch,
                 int faultLogCapacity) {
        if (deferredBatch < 1 || deferredBatch > 1 << 16) {
            throw new IllegalArgumentException("iommuBatch: " + deferredBatch + " is not allowed; use 1 to 65536");
        }
        this.memory = memory;
        this.profile = profile;
        this.iotlb = iotlb;
        this.mode = mode;
        this.batch = deferredBatch;
        this.faults = new FaultLog(faultLogCapacity);
        this.excluded = new long[(memory.frames() + 63) >>> 6];
        this.secured = new long[(memory.frames() + 63) >>> 6];
        // Sized so it never grows: at most deferredBatch keys at a load of a half.
        this.pendingSet = new Long2LongHashMap(Integer.highestOneBit(deferredBatch) << 2, 0.5f, -1);
        this.pendingList = new long[deferredBatch];
        java.util.Arrays.fill(kind, IDENTITY);
    }

    private static void checkDevice(int device) {
        if (device < 0 || device >= MAX_DEVICES) {
            throw new IllegalArgumentException("device id must be 0.." + (MAX_DEVICES - 1) + "; got " + device);
        }
    }

    /** The device's DMA is not translated and not checked (no protection). */
    public void attachIdentity(int device) {
        checkDevice(device);
        kind[device] = IDENTITY;
    }

    /** The device reaches any frame not in the exclusion vector, untranslated. */
    public void attachExclusion(int device) {
        checkDevice(device);
        kind[device] = EXCLUSION;
    }

    /** The device's DMA is refused whatever it asks; what the IOTLB held for its context is dropped. */
    public void block(int device) {
        checkDevice(device);
        if (kind[device] == TRANSLATE) {
            iotlb.flushAsid(tag[device]);
        }
        kind[device] = BLOCKED;
    }

    /**
     * The device's DMA is translated through {@code table}, cached in the IOTLB under {@code contextTag}
     * (a domain's ASID when the table is its p2m). Old entries of the device's previous context are
     * invalidated.
     */
    public void attachTable(int device, PageTable table, int contextTag) {
        checkDevice(device);
        if (kind[device] == TRANSLATE) {
            iotlb.flushAsid(tag[device]);
        }
        kind[device] = TRANSLATE;
        root[device] = table.rootMa();
        levels[device] = table.levels();
        tag[device] = contextTag;
    }

    /** Machine address of the I/O table the device's DMA is translated through, or -1 when it is not translated. */
    public long tableRoot(int device) {
        checkDevice(device);
        return kind[device] == TRANSLATE ? root[device] : -1;
    }

    /** The IOTLB tag of the device's context (meaningful when {@link #tableRoot} is one). */
    public int tableTag(int device) {
        checkDevice(device);
        return tag[device];
    }

    /** Levels of the device's I/O table (meaningful when {@link #tableRoot} is one). */
    public int tableLevels(int device) {
        checkDevice(device);
        return levels[device];
    }

    /** Marks a frame as one no device may touch (used in exclusion mode). */
    public void exclude(long mfn) {
        excluded[(int) (mfn >>> 6)] |= 1L << mfn;
    }

    public void include(long mfn) {
        excluded[(int) (mfn >>> 6)] &= ~(1L << mfn);
    }

    public boolean isExcluded(long mfn) {
        return (excluded[(int) (mfn >>> 6)] & (1L << mfn)) != 0;
    }

    /**
     * Keeps every device away from frame {@code mfn}, translated, identity-mapped or excluded alike,
     * until {@link #unsecure}: a dynamic launch's protection of its loader. Called by the one CPU that
     * launches, before it reads the frame.
     */
    public void secure(long mfn) {
        long bit = 1L << mfn;
        int word = (int) (mfn >>> 6);
        if ((secured[word] & bit) == 0) {
            secured[word] |= bit;
            SECURED_FRAMES.setRelease(this, (int) SECURED_FRAMES.getOpaque(this) + 1);
        }
    }

    /** Lets devices reach frame {@code mfn} again (the loader has set up its own protection). */
    public void unsecure(long mfn) {
        long bit = 1L << mfn;
        int word = (int) (mfn >>> 6);
        if ((secured[word] & bit) != 0) {
            secured[word] &= ~bit;
            SECURED_FRAMES.setRelease(this, (int) SECURED_FRAMES.getOpaque(this) - 1);
        }
    }

    public boolean isSecured(long mfn) {
        return (secured[(int) (mfn >>> 6)] & (1L << mfn)) != 0;
    }

    @Override
    public long translate(int device, long iova, int access) {
        long ma = translateContext(device, iova, access);
        // Off the fast path unless a launch holds frames: one acquire load (a plain load on x86).
        if (ma >= 0 && (int) SECURED_FRAMES.getAcquire(this) != 0 && isSecured(ma >>> MachineMemory.PAGE_SHIFT)) {
            return fault(device, iova, access);
        }
        return ma;
    }

    private long translateContext(int device, long iova, int access) {
        if ((long) POSTED.getAcquire(this) != (long) APPLIED.getOpaque(this)) {
            serviceRequests();
        }
        translations++;
        if ((device & ~(MAX_DEVICES - 1)) != 0) {
            return fault(device, iova, access);
        }
        int k = kind[device];
        // The translated context first: it is the hot path of every protected DMA.
        if (k == TRANSLATE) {
            return translateThroughTable(device, iova, access);
        }
        if (k == IDENTITY) {
            return memory.contains(iova, 1) ? iova : fault(device, iova, access);
        }
        if (k == EXCLUSION) {
            return memory.contains(iova, 1) && !isExcluded(iova >>> MachineMemory.PAGE_SHIFT) ? iova
                : fault(device, iova, access);
        }
        return fault(device, iova, access);
    }

    private long translateThroughTable(int device, long iova, int access) {
        int t = tag[device];
        long translation = iotlb.lookup(t, iova);
        if (translation == Tlb.MISS) {
            translation = PageWalker.walk(memory, root[device], levels[device], iova);
            clock.advance(CostPart.IOTLB_MISS, profile.iotlbMissPicos());
            if (translation < 0) {
                clock.advance(CostPart.IOTLB_WALK, profile.walkLevelPicos());
                return fault(device, iova, access);
            }
            clock.advance(CostPart.IOTLB_WALK, PageWalker.levelsRead(levels[device], Translation.pageShift(translation)) * profile.walkLevelPicos());
            iotlb.insert(t, iova, translation);
        } else if (pendingSlots > 0 && pendingSet.containsKey(key(t, iova))) {
            // An IOTLB hit on a page unmapped but not yet invalidated: the deferred mode's window.
            staleSuccesses++;
            staleSinceFlush++;
        }
        if (!Translation.allows(translation, access)) {
            return fault(device, iova, access);
        }
        return Translation.machineAddress(translation, iova);
    }

    private long fault(int device, long iova, int access) {
        refused++;
        faults.record(device, iova, access);
        return -Errno.EFAULT;
    }

    /**
     * Removes the I/O page at {@code iova} from {@code table} (the table of a context tagged
     * {@code contextTag}) and invalidates it per the invalidation mode.
     *
     * @return the page shift removed, or a negative errno from the table
     */
    public int unmap(PageTable table, int contextTag, long iova) {
        int shift = table.unmap(iova);
        if (shift < 0) {
            return shift;
        }
        invalidate(contextTag, iova);
        return shift;
    }

    /**
     * A page of the table behind {@code contextTag} was unmapped: strict invalidates it now, deferred
     * queues it (and flushes the queue when it is full).
     */
    public void invalidate(int contextTag, long iova) {
        if (remote()) {
            post(OP_INVALIDATE, contextTag, iova, mode == InvalidationMode.STRICT);
            return;
        }
        if (mode == InvalidationMode.STRICT) {
            invalidateNow(contextTag, iova);
            return;
        }
        long k = key(contextTag, iova);
        if (pendingSet.get(k) == -1) {
            pendingSet.put(k, pendingSlots);
            pendingList[pendingSlots++] = k;
        }
        if (pendingSlots >= batch) {
            flush();
        }
    }

    /**
     * Invalidates a page at once, whatever the mode: for changes the hypervisor makes to a p2m that a
     * device works in (a frame leaving the domain cannot wait for a batch, as Xen never lets it).
     */
    public void invalidateNow(int contextTag, long iova) {
        if (remote()) {
            post(OP_INVALIDATE_NOW, contextTag, iova, true);
            return;
        }
        iotlb.flushPage(contextTag, iova);
        invalidations++;
        clock.advance(CostPart.IOTLB_INVALIDATE, profile.iotlbInvalidatePicos());
        forget(key(contextTag, iova));
    }

    /**
     * A page is being mapped in the table behind {@code contextTag}: if its unmap is still queued,
     * the old IOTLB entry is invalidated now, so the new mapping is never shadowed by a stale one
     * (Linux reaches the same end by not reusing an IOVA before its flush).
     */
    public void mapping(int contextTag, long iova) {
        if (remote()) {
            post(OP_MAPPING, contextTag, iova, false);
            return;
        }
        if (pendingSlots > 0 && pendingSet.containsKey(key(contextTag, iova))) {
            invalidateNow(contextTag, iova);
        }
    }

    private void forget(long k) {
        long slot = pendingSet.remove(k);
        if (slot != -1) {
            pendingList[(int) slot] = 0;
        }
    }

    /** Invalidates every queued unmap with one batched invalidation (deferred mode). */
    public void flush() {
        if (remote()) {
            post(OP_FLUSH, 0, 0, true);
            return;
        }
        if (pendingSlots == 0) {
            return;
        }
        for (int i = 0; i < pendingSlots; i++) {
            long k = pendingList[i];
            if (k != 0) {
                iotlb.flushPage((int) (k >>> 48), ((k & ((1L << 48) - 1)) - 1) << MachineMemory.PAGE_SHIFT);
                invalidations++;
            }
        }
        batches++;
        clock.advance(CostPart.IOTLB_INVALIDATE, profile.iotlbInvalidatePicos());
        pendingSlots = 0;
        pendingSet.clear();
        staleSinceFlush = 0;
    }

    /**
     * The threaded executor hands the IOTLB to the device's thread ({@code null}: back to the calling
     * thread, after that thread stopped); {@code wakeup} wakes it when it may sleep. Set before the
     * device's thread translates, cleared after it stopped.
     */
    public void setOwner(Thread thread, Runnable wakeup) {
        this.ownerWakeup = wakeup;
        this.owner = thread;
        if (thread == null) {
            serviceRequests();
            POSTER.setVolatile(this, null);
        }
    }

    private boolean remote() {
        Thread o = owner;
        return o != null && o != Thread.currentThread();
    }

    /** Posts a request to the owner and, for {@code await}, waits until it was applied. */
    private void post(int op, int contextTag, long iova, boolean await) {
        Thread me = Thread.currentThread();
        Thread p = (Thread) POSTER.getAcquire(this);
        if (p != me && (p != null || !POSTER.compareAndSet(this, null, me))) {
            throw new IllegalStateException("IOMMU: invalidations from " + me.getName() + " while "
                + ((Thread) POSTER.getAcquire(this)).getName() + " posts them; one CPU thread at a time may post");
        }
        long deadline = System.nanoTime() + APPLY_TIMEOUT_NANOS;
        int index;
        while ((index = requests.tryClaim(op, REQUEST_BYTES)) < 0) {
            awaitOwner(deadline, "room in its request ring");
        }
        org.agrona.concurrent.AtomicBuffer b = requests.buffer();
        b.putInt(index, contextTag);
        b.putLong(index + 8, iova);
        requests.commit(index);
        // Release: the request is in the ring before the owner sees the count move.
        POSTED.setRelease(this, (long) POSTED.getOpaque(this) + 1);
        Runnable w = ownerWakeup;
        if (w != null) {
            w.run();
        }
        if (await) {
            while (!appliedAll.getAsBoolean()) {
                awaitOwner(deadline, "an invalidation applied");
            }
        }
    }

    private void awaitOwner(long deadline, String what) {
        if (System.nanoTime() - deadline >= 0) {
            Thread o = owner;
            throw new IllegalStateException("IOMMU: the device's thread " + (o == null ? "(none)" : o.getName())
                + " did not get " + what + " within " + APPLY_TIMEOUT_NANOS / 1_000_000_000L + " s");
        }
        Runnable w = ownerWakeup;
        if (w != null) {
            w.run();
        }
        Thread.onSpinWait();
        Thread.yield();
    }

    @Override
    public boolean hasRequests() {
        return (long) POSTED.getAcquire(this) != (long) APPLIED.getOpaque(this);
    }

    @Override
    public int serviceRequests() {
        return requests.read(this);
    }

    /** Applies one posted request on the owner's thread. */
    @Override
    public void onMessage(int op, org.agrona.MutableDirectBuffer buffer, int index, int length) {
        int contextTag = buffer.getInt(index);
        long iova = buffer.getLong(index + 8);
        switch (op) {
            case OP_INVALIDATE:
                invalidate(contextTag, iova);
                break;
            case OP_INVALIDATE_NOW:
                invalidateNow(contextTag, iova);
                break;
            case OP_MAPPING:
                mapping(contextTag, iova);
                break;
            default:
                flush();
        }
        // Release: what the request changed is visible to a poster that sees the count.
        APPLIED.setRelease(this, (long) APPLIED.getOpaque(this) + 1);
    }

    /** (tag, page) as a non-zero key: tag in bits 48-63, page number + 1 below. */
    private static long key(int contextTag, long iova) {
        return (long) contextTag << 48 | ((iova >>> MachineMemory.PAGE_SHIFT) + 1 & ((1L << 48) - 1));
    }

    public InvalidationMode mode() {
        return mode;
    }

    public FaultLog faults() {
        return faults;
    }

    public Tlb iotlb() {
        return iotlb;
    }

    public VirtualClock clock() {
        return clock;
    }

    public long translations() {
        return translations;
    }

    /** DMAs refused (unmapped, not permitted, excluded, blocked). */
    public long refused() {
        return refused;
    }

    /** DMAs that reached a page after it was unmapped, before a deferred flush. */
    public long staleSuccesses() {
        return staleSuccesses;
    }

    /** Unmaps queued and not yet invalidated. */
    public int pendingUnmaps() {
        return pendingSet.size();
    }

    /** Stale successes since the last deferred flush: 0 right after it. */
    public long staleSinceFlush() {
        return staleSinceFlush;
    }

    public long invalidations() {
        return invalidations;
    }

    /** Deferred flushes done. */
    public long batches() {
        return batches;
    }
}
