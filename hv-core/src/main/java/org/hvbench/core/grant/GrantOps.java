package org.hvbench.core.grant;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Bindings;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.HypercallHandler;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.PageWalker;
import org.hvbench.core.mem.Translation;

/**
 * The hypervisor's grant-table operations ({@code GRANT_TABLE_OP}): a domain registers its table,
 * another domain maps a granted frame into its mapping window or has the hypervisor copy bytes
 * to or from it, and unmaps it again (which costs a TLB shoot-down: the cost persistent grants avoid).
 * A privileged domain may also map or copy a frame of another domain by frame number (a device
 * emulator's foreign mapping). Every such binding first asks the access-control module.
 *
 * <pre>
 * a0 = GNTTAB_SETUP: a1 = gpa of the table's first page, a2 = pages (1..4)   -> entries
 * a0 = GNTTAB_MAP:   a1 = gpa of map operations, a2 = count (1..32)         -> 0, statuses in the ops
 * a0 = GNTTAB_UNMAP: a1 = gpa of unmap operations, a2 = count               -> 0, statuses in the ops
 * a0 = GNTTAB_COPY:  a1 = gpa of copy operations, a2 = count                -> 0, statuses in the ops
 *
 * Map operation, 24 bytes: host gpa u64 @0 (a page of the mapper's window), flags u32 @8
 * (MAP_READONLY 1, MAP_FOREIGN 2: ref is a frame number of dom), ref u32 @12, dom u16 @16,
 * status i16 @18 (out), handle u32 @20 (out).
 * Unmap operation, 16 bytes: host gpa u64 @0, handle u32 @8, status i16 @12 (out).
 * Copy operation, 24 bytes: source ref-or-gfn u32 @0, dom u16 @4, offset u16 @6; destination
 * ref-or-gfn u32 @8, dom u16 @12, offset u16 @14; length u16 @16; flags u16 @18 (SOURCE_GREF 1,
 * DEST_GREF 2; a side without its flag names a frame of the caller, or of dom for a privileged
 * caller); status i16 @20 (out).
 * </pre>
 *
 * Each operation is copied into the hypervisor's private page once before it is checked. A grant
 * entry is trusted only after a compare-and-set that also marks it READING or WRITING: a granter that
 * changes the entry at the same moment makes the map fail or retry, never map a frame it revoked.
 */
public final class GrantOps implements HypercallHandler, Bindings {
    public static final int MAX_TABLE_PAGES = 4;
    public static final int MAX_BATCH = 32;
    public static final int MAX_MAPS = 16384;

    public static final int MAP_BYTES = 24;
    public static final int MAP_HOST = 0;
    public static final int MAP_FLAGS = 8;
    public static final int MAP_REF = 12;
    public static final int MAP_DOM = 16;
    public static final int MAP_STATUS = 18;
    public static final int MAP_HANDLE = 20;
    public static final int MAP_READONLY = 1;
    public static final int MAP_FOREIGN = 2;

    public static final int UNMAP_BYTES = 16;
    public static final int UNMAP_HOST = 0;
    public static final int UNMAP_HANDLE = 8;
    public static final int UNMAP_STATUS = 12;

    public static final int COPY_BYTES = 24;
    public static final int COPY_SRC_REF = 0;
    public static final int COPY_SRC_DOM = 4;
    public static final int COPY_SRC_OFFSET = 6;
    public static final int COPY_DST_REF = 8;
    public static final int COPY_DST_DOM = 12;
    public static final int COPY_DST_OFFSET = 14;
    public static final int COPY_LENGTH = 16;
    public static final int COPY_FLAGS = 18;
    public static final int COPY_STATUS = 20;
    public static final int COPY_SOURCE_GREF = 1;
    public static final int COPY_DEST_GREF = 2;

    private final Hypervisor hv;
    private final MachineMemory memory;
    private final FrameAllocator frames;
    private final long[][] tablePages = new long[Hypervisor.MAX_DOMAINS][];
    private final int[][] readPins = new int[Hypervisor.MAX_DOMAINS][];
    private final int[][] writePins = new int[Hypervisor.MAX_DOMAINS][];
    private final Maps[] maps = new Maps[Hypervisor.MAX_DOMAINS];
    private final long[] privatePage = new long[Hypervisor.MAX_CPUS];
    /**
     * Per machine frame: live mappings of it whose granter was destroyed (orphaned handles). While
     * non-zero the frame stays in quarantine ({@link FrameAllocator#OWNER_QUARANTINE}).
     */
    private final int[] orphanRefs;
    private long orphaned;

    private long mapped;
    private long unmapped;
    private long copies;
    private long refused;
    private long revoked;

    /** What one mapper has mapped, by handle. */
    private static final class Maps {
        final long[] host = new long[MAX_MAPS];
        final int[] granter = new int[MAX_MAPS];
        final int[] ref = new int[MAX_MAPS];
        final boolean[] writable = new boolean[MAX_MAPS];
        final boolean[] foreign = new boolean[MAX_MAPS];
        /** The granter was destroyed while this handle was live: it maps a frame in quarantine. */
        final boolean[] orphan = new boolean[MAX_MAPS];
        /**
         * A policy change revoked this mapping: the page is gone from the mapper's window and the
         * grant unpinned, but the handle stays the mapper's until it unmaps it (which then only frees it).
         */
        final boolean[] revoked = new boolean[MAX_MAPS];
        final int[] free = new int[MAX_MAPS];
        int freeCount;

        Maps() {
            for (int h = MAX_MAPS - 1; h >= 0; h--) {
                free[freeCount++] = h;
            }
            java.util.Arrays.fill(host, -1);
        }
    }

    /** Registers the grant-table hypercall with {@code hv}. */
    public GrantOps(Hypervisor hv) {
        this.hv = hv;
        this.memory = hv.machine().memory();
        this.frames = hv.machine().frames();
        this.orphanRefs = new int[frames.frames()];
        hv.registerHypercall(Hypercall.GRANT_TABLE_OP, this);
        hv.addTeardown(this::release);
        hv.addBindings(this);
    }

    /**
     * {@code dying} is being destroyed (Xen's {@code gnttab_release_mappings}): what it mapped of
     * other domains is dropped and their entries unpinned, so the granters can revoke them (a frame of
     * an already destroyed granter it still mapped leaves quarantine if this was the last mapping);
     * its table is forgotten.
     *
     * <p>What other domains mapped of its frames (a back end's grant mappings, an emulator's foreign
     * ones) is <em>not</em> torn out from under them: the mapper may have I/O on its device with DMA
     * aimed at those frames, and with the IOMMU off (or an IOTLB entry already used) nothing would stop
     * that DMA from landing in whatever domain the frame went to next. Each such frame goes into
     * quarantine instead ({@link FrameAllocator#quarantine}); its handles stay valid but orphaned, and
     * when the mapper unmaps the last of them (after its device finished with the frame) the unmap's
     * shoot-down (CPU TLBs, the IOTLB synchronously) runs first, then the frame is scrubbed and freed.
     * This is Xen's page reference: a dying domain's page stays allocated while a grant mapping holds it.
     */
    private void release(Domain dying) {
        int id = dying.id();
        Maps own = maps[id];
        maps[id] = null;
        if (own != null) {
            // Its own address space goes with it: only the granters' pins are undone.
            for (int h = 0; h < MAX_MAPS; h++) {
                if (own.host[h] == -1 || own.revoked[h]) {
                    continue;
                }
                if (own.orphan[h]) {
                    long t = dying.space().table().translate(own.host[h]);
                    if (t >= 0) {
                        dropOrphan(Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT);
                    }
                } else if (!own.foreign[h]) {
                    Domain granter = hv.domain(own.granter[h]);
                    if (granter != null) {
                        unpin(granter, own.ref[h], own.writable[h]);
                    }
                }
            }
        }
        for (int m = 0; m < maps.length; m++) {
            Maps other = maps[m];
            Domain mapper = hv.domain(m);
            if (other == null || mapper == null) {
                continue;
            }
            for (int h = 0; h < MAX_MAPS; h++) {
                if (other.host[h] == -1 || other.granter[h] != id || other.orphan[h] || other.revoked[h]) {
                    continue;
                }
                long t = mapper.space().table().translate(other.host[h]);
                if (t < 0) {
                    throw new IllegalStateException("grant table: handle " + h + " of " + mapper + " maps nothing at 0x"
                        + Long.toHexString(other.host[h]) + " (bookkeeping broken)");
                }
                long mfn = Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT;
                if (frames.owner(mfn) == id) {
                    frames.quarantine(mfn, id);
                }
                orphanRefs[(int) mfn]++;
                other.orphan[h] = true;
                orphaned++;
            }
        }
        tablePages[id] = null;
        readPins[id] = null;
        writePins[id] = null;
    }

    /** One orphaned mapping of frame {@code mfn} is gone; the last one ends its quarantine. */
    private void dropOrphan(long mfn) {
        if (--orphanRefs[(int) mfn] == 0) {
            frames.releaseQuarantined(mfn);
        }
    }

    @Override
    public long call(Cpu cpu, Domain caller, long cmd, long a1, long a2, long a3) {
        // The work of the operation shows as the grant part of modelled time; the hypercall that
        // entered here is a crossing of its own.
        CostPart outer = cpu.chargeWorkTo(CostPart.GRANT);
        try {
            return dispatch(cpu, caller, cmd, a1, a2);
        } finally {
            cpu.chargeWorkTo(outer);
        }
    }

    private long dispatch(Cpu cpu, Domain caller, long cmd, long a1, long a2) {
        switch ((int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, cmd))) {
            case Hypercall.GNTTAB_SETUP:
                return setup(cpu, caller, a1, a2);
            case Hypercall.GNTTAB_MAP:
                return batch(cpu, caller, a1, a2, MAP_BYTES, Hypercall.GNTTAB_MAP);
            case Hypercall.GNTTAB_UNMAP:
                return batch(cpu, caller, a1, a2, UNMAP_BYTES, Hypercall.GNTTAB_UNMAP);
            case Hypercall.GNTTAB_COPY:
                return batch(cpu, caller, a1, a2, COPY_BYTES, Hypercall.GNTTAB_COPY);
            default:
                return -Errno.EINVAL;
        }
    }

    private long setup(Cpu cpu, Domain d, long gpa, long pages) {
        if (pages < 1 || pages > MAX_TABLE_PAGES || (gpa & MachineMemory.PAGE_MASK) != 0) {
            return -Errno.EINVAL;
        }
        int[] pins = readPins[d.id()];
        if (pins != null) {
            for (int i = 0; i < pins.length; i++) {
                if (pins[i] != 0 || writePins[d.id()][i] != 0) {
                    return -Errno.EBUSY;
                }
            }
        }
        long[] mas = new long[(int) pages];
        for (int p = 0; p < pages; p++) {
            long ma = cpu.translate(d.space(), gpa + ((long) p << MachineMemory.PAGE_SHIFT), Translation.READ | Translation.WRITE);
            if (ma < 0 || frames.owner(ma >>> MachineMemory.PAGE_SHIFT) != d.id()) {
                return -Errno.EFAULT;
            }
            mas[p] = ma;
        }
        int entries = (int) pages * GrantEntry.PER_PAGE;
        tablePages[d.id()] = mas;
        readPins[d.id()] = new int[entries];
        writePins[d.id()] = new int[entries];
        return entries;
    }

    private long privatePage(Cpu cpu) {
        long ma = privatePage[cpu.id()];
        if (ma == 0) {
            long mfn = frames.allocate(Hypervisor.DOMID_XEN);
            if (mfn < 0) {
                throw new IllegalStateException("memory: no free frame for the grant table's private page");
            }
            ma = mfn << MachineMemory.PAGE_SHIFT;
            privatePage[cpu.id()] = ma;
        }
        return ma;
    }

    /** Copies each operation into private memory once, runs it, writes its status back. */
    private long batch(Cpu cpu, Domain caller, long gpa, long count, int bytes, int kind) {
        if (count < 1 || count > MAX_BATCH) {
            return -Errno.EINVAL;
        }
        long privateVa = privatePage(cpu);
        for (int i = 0; i < count; i++) {
            long opGpa = gpa + (long) i * bytes;
            int r = cpu.copy(caller.space(), opGpa, hv.space(), privateVa, bytes);
            if (r < 0) {
                return r;
            }
            long op = cpu.translate(hv.space(), privateVa, Translation.READ);
            switch (kind) {
                case Hypercall.GNTTAB_MAP: {
                    // A map is made only where its status and handle can be told: one the caller cannot
                    // name would keep the granter's grant pinned with no way to unmap it.
                    if (!answerable(cpu, caller, opGpa + MAP_STATUS, 2) || !answerable(cpu, caller, opGpa + MAP_HANDLE, 4)) {
                        return -Errno.EFAULT;
                    }
                    long handle = map(cpu, caller, memory.getLong(op + MAP_HOST), memory.getInt(op + MAP_FLAGS),
                        memory.getInt(op + MAP_REF), memory.getShort(op + MAP_DOM) & 0xFFFF);
                    if (!writeBack(cpu, caller, opGpa + MAP_STATUS, handle < 0 ? handle : 0, opGpa + MAP_HANDLE,
                        handle < 0 ? -1 : handle)) {
                        return -Errno.EFAULT;
                    }
                    break;
                }
                case Hypercall.GNTTAB_UNMAP: {
                    long status = unmap(cpu, caller, memory.getLong(op + UNMAP_HOST), memory.getInt(op + UNMAP_HANDLE));
                    if (!writeBack(cpu, caller, opGpa + UNMAP_STATUS, status, -1, 0)) {
                        return -Errno.EFAULT;
                    }
                    break;
                }
                default: {
                    long status = copy(cpu, caller, op);
                    if (!writeBack(cpu, caller, opGpa + COPY_STATUS, status, -1, 0)) {
                        return -Errno.EFAULT;
                    }
                }
            }
        }
        return 0;
    }

    /** True when the caller can be told an answer of {@code bytes} at {@code gpa}: mapped writable, not across a page. */
    private static boolean answerable(Cpu cpu, Domain caller, long gpa, int bytes) {
        return (gpa & MachineMemory.PAGE_MASK) <= MachineMemory.PAGE_SIZE - bytes
            && cpu.translate(caller.space(), gpa, Translation.WRITE) >= 0;
    }

    private boolean writeBack(Cpu cpu, Domain caller, long statusGpa, long status, long handleGpa, long handle) {
        long s = cpu.translate(caller.space(), statusGpa, Translation.WRITE);
        if (s < 0 || (statusGpa & MachineMemory.PAGE_MASK) > MachineMemory.PAGE_SIZE - 2) {
            return false;
        }
        memory.putShort(s, (short) status);
        if (handleGpa >= 0) {
            long h = cpu.translate(caller.space(), handleGpa, Translation.WRITE);
            if (h < 0 || (handleGpa & MachineMemory.PAGE_MASK) > MachineMemory.PAGE_SIZE - 4) {
                return false;
            }
            memory.putInt(h, (int) handle);
        }
        return true;
    }

    /** Maps a granted (or, for a privileged mapper, foreign) frame: a handle, or a negative errno. */
    private long map(Cpu cpu, Domain mapper, long host, int flags, int ref, int granterId) {
        Domain granter = hv.domain(granterId);
        boolean writable = (flags & MAP_READONLY) == 0;
        boolean foreign = (flags & MAP_FOREIGN) != 0;
        if (granter == null || granter == mapper) {
            return refuse(-Errno.EINVAL);
        }
        if ((host & MachineMemory.PAGE_MASK) != 0 || !mapper.inWindow(host) || mapper.space().table().translate(host) >= 0) {
            return refuse(-Errno.EINVAL);
        }
        Maps m = maps(mapper);
        if (m.freeCount == 0) {
            return refuse(-Errno.ENOSPC);
        }
        long ma;
        if (foreign) {
            if (!mapper.privileged()) {
                return refuse(-Errno.EPERM);
            }
            int verdict = hv.accessControl().foreignMap(mapper, granter);
            if (verdict < 0) {
                return refuse(verdict);
            }
            ma = frameOf(cpu, granter, Integer.toUnsignedLong(ref), writable);
        } else {
            int verdict = hv.accessControl().grantMap(mapper, granter);
            if (verdict < 0) {
                return refuse(verdict);
            }
            ma = pin(cpu, mapper, granter, ref, writable);
        }
        if (ma < 0) {
            return refuse(ma);
        }
        int r = mapper.space().table().map(host, ma, PageTable.SHIFT_4K,
            writable ? Translation.READ | Translation.WRITE : Translation.READ);
        if (r < 0) {
            if (!foreign) {
                unpin(granter, ref, writable);
            }
            return refuse(r);
        }
        int handle = m.free[--m.freeCount];
        m.host[handle] = host;
        m.granter[handle] = granterId;
        m.ref[handle] = ref;
        m.writable[handle] = writable;
        m.foreign[handle] = foreign;
        m.orphan[handle] = false;
        m.revoked[handle] = false;
        mapped++;
        return handle;
    }

    private long unmap(Cpu cpu, Domain mapper, long host, int handle) {
        Maps m = maps[mapper.id()];
        if (m == null || handle < 0 || handle >= MAX_MAPS || m.host[handle] != host || host == -1) {
            return refuse(-Errno.EINVAL);
        }
        if (m.orphan[handle]) {
            // The granter is gone and the frame in quarantine: the shoot-down first (synchronous in the
            // IOTLB too), so neither a CPU nor the mapper's device can reach it, then scrub and free.
            long t = mapper.space().table().translate(host);
            mapper.space().table().unmap(host);
            hv.flushTlbs(mapper, host);
            m.orphan[handle] = false;
            m.host[handle] = -1;
            m.free[m.freeCount++] = handle;
            unmapped++;
            if (t >= 0) {
                dropOrphan(Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT);
            }
            return 0;
        }
        if (m.revoked[handle]) {
            // The revocation took the page and the pins already: only the handle is left to free.
            m.revoked[handle] = false;
            m.host[handle] = -1;
            m.free[m.freeCount++] = handle;
            unmapped++;
            return 0;
        }
        mapper.space().table().unmap(host);
        hv.flushTlbs(mapper, host);
        if (!m.foreign[handle]) {
            Domain granter = hv.domain(m.granter[handle]);
            if (granter != null) {
                unpin(granter, m.ref[handle], m.writable[handle]);
            }
        }
        m.host[handle] = -1;
        m.free[m.freeCount++] = handle;
        unmapped++;
        return 0;
    }

    private long copy(Cpu cpu, Domain caller, long op) {
        int flags = memory.getShort(op + COPY_FLAGS) & 0xFFFF;
        int length = memory.getShort(op + COPY_LENGTH) & 0xFFFF;
        int srcOffset = memory.getShort(op + COPY_SRC_OFFSET) & 0xFFFF;
        int dstOffset = memory.getShort(op + COPY_DST_OFFSET) & 0xFFFF;
        if (length == 0 || srcOffset + length > MachineMemory.PAGE_SIZE || dstOffset + length > MachineMemory.PAGE_SIZE) {
            return refuse(-Errno.EINVAL);
        }
        boolean srcGrant = (flags & COPY_SOURCE_GREF) != 0;
        boolean dstGrant = (flags & COPY_DEST_GREF) != 0;
        int srcRef = memory.getInt(op + COPY_SRC_REF);
        int dstRef = memory.getInt(op + COPY_DST_REF);
        Domain src = side(caller, memory.getShort(op + COPY_SRC_DOM) & 0xFFFF, srcGrant);
        Domain dst = side(caller, memory.getShort(op + COPY_DST_DOM) & 0xFFFF, dstGrant);
        if (src == null || dst == null) {
            return refuse(-Errno.EPERM);
        }
        long srcMa = srcGrant ? pin(cpu, caller, src, srcRef, false) : frameOf(cpu, src, Integer.toUnsignedLong(srcRef), false);
        if (srcMa < 0) {
            return refuse(srcMa);
        }
        long dstMa = dstGrant ? pin(cpu, caller, dst, dstRef, true) : frameOf(cpu, dst, Integer.toUnsignedLong(dstRef), true);
        if (dstMa < 0) {
            if (srcGrant) {
                unpin(src, srcRef, false);
            }
            return refuse(dstMa);
        }
        memory.copy(srcMa + srcOffset, dstMa + dstOffset, length);
        cpu.chargeCopy(length);
        if (srcGrant) {
            unpin(src, srcRef, false);
        }
        if (dstGrant) {
            unpin(dst, dstRef, true);
        }
        copies++;
        return 0;
    }

    /**
     * The domain one side of a copy names: a granter (by grant), the caller itself (by frame), or,
     * for a privileged caller, another domain by frame; {@code null} when not allowed.
     */
    private Domain side(Domain caller, int domid, boolean byGrant) {
        Domain d = hv.domain(domid);
        if (d == null) {
            return null;
        }
        if (byGrant || d == caller) {
            return hv.accessControl().grantCopy(caller, d) < 0 ? null : d;
        }
        if (!caller.privileged() || hv.accessControl().foreignMap(caller, d) < 0) {
            return null;
        }
        return d;
    }

    /** The machine frame behind guest frame {@code gfn} of {@code owner}, which must own it. */
    private long frameOf(Cpu cpu, Domain owner, long gfn, boolean writable) {
        if (gfn >= owner.pages()) {
            return -Errno.EINVAL;
        }
        long ma = cpu.translate(owner.space(), gfn << MachineMemory.PAGE_SHIFT,
            writable ? Translation.READ | Translation.WRITE : Translation.READ);
        if (ma < 0 || frames.owner(ma >>> MachineMemory.PAGE_SHIFT) != owner.id()) {
            return -Errno.EINVAL;
        }
        return ma;
    }

    /**
     * Checks grant {@code ref} of {@code granter} for {@code user} and marks it READING (and
     * WRITING) with a compare-and-set, then translates the granted frame: its machine address, or a
     * negative errno with the entry left as it was.
     */
    private long pin(Cpu cpu, Domain user, Domain granter, int ref, boolean writable) {
        long[] pages = tablePages[granter.id()];
        if (pages == null || ref < 0 || ref >= pages.length * GrantEntry.PER_PAGE) {
            return -Errno.EINVAL;
        }
        long entry = pages[ref / GrantEntry.PER_PAGE] + (long) (ref % GrantEntry.PER_PAGE) * GrantEntry.BYTES;
        int pinned = GrantEntry.pin(memory, entry, user.id(), writable);
        if (pinned < 0) {
            return pinned;
        }
        readPins[granter.id()][ref]++;
        if (writable) {
            writePins[granter.id()][ref]++;
        }
        // The frame is read after the compare-and-set (a full fence): it is the one granted.
        long ma = frameOf(cpu, granter, Integer.toUnsignedLong(memory.getInt(entry + GrantEntry.FRAME)), writable);
        if (ma < 0) {
            unpin(granter, ref, writable);
        }
        return ma;
    }

    /** Drops one pin; when the last reader or writer goes, clears READING or WRITING. */
    private void unpin(Domain granter, int ref, boolean writable) {
        int[] reads = readPins[granter.id()];
        if (reads == null || ref < 0 || ref >= reads.length) {
            return;
        }
        reads[ref]--;
        if (writable) {
            writePins[granter.id()][ref]--;
        }
        int clear = (reads[ref] == 0 ? GrantEntry.READING : 0) | (writePins[granter.id()][ref] == 0 ? GrantEntry.WRITING : 0);
        if (clear == 0) {
            return;
        }
        long entry = tablePages[granter.id()][ref / GrantEntry.PER_PAGE] + (long) (ref % GrantEntry.PER_PAGE) * GrantEntry.BYTES;
        // A granter that keeps rewriting its own entry only keeps its own grant marked in use.
        GrantEntry.clear(memory, entry, clear);
    }

    private Maps maps(Domain mapper) {
        Maps m = maps[mapper.id()];
        if (m == null) {
            m = new Maps();
            maps[mapper.id()] = m;
        }
        return m;
    }

    private long refuse(long errno) {
        refused++;
        return errno;
    }

    /** Frames of {@code granter} that are mapped or being copied now. */
    public int pinned(Domain granter) {
        int[] reads = readPins[granter.id()];
        int n = 0;
        if (reads != null) {
            for (int r : reads) {
                if (r != 0) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Live pins of grant {@code ref} of {@code granter}: readers, or with {@code writers} writers only. */
    public int pins(Domain granter, int ref, boolean writers) {
        int[] pins = writers ? writePins[granter.id()] : readPins[granter.id()];
        return pins == null || ref < 0 || ref >= pins.length ? 0 : pins[ref];
    }

    /**
     * Live grant and foreign mappings, held by any domain, of frames of domain {@code granterId}: of
     * a live granter, or the orphaned ones of a destroyed granter. For tests: after a front end's back
     * end has torn down, none is left.
     */
    public int mappingsOf(int granterId) {
        int n = 0;
        for (Maps m : maps) {
            for (int h = 0; m != null && h < MAX_MAPS; h++) {
                n += m.host[h] != -1 && m.granter[h] == granterId && !m.revoked[h] ? 1 : 0;
            }
        }
        return n;
    }

    /** Orphaned mappings {@code mapper} still holds (their frames are in quarantine). */
    public int orphanMappings(Domain mapper) {
        Maps m = maps[mapper.id()];
        int n = 0;
        for (int h = 0; m != null && h < MAX_MAPS; h++) {
            n += m.host[h] != -1 && m.orphan[h] ? 1 : 0;
        }
        return n;
    }

    /** Mappings ever orphaned by their granter's destruction. */
    public long orphaned() {
        return orphaned;
    }

    /** Grant and foreign mappings {@code mapper} holds now. */
    public int mappings(Domain mapper) {
        Maps m = maps[mapper.id()];
        return m == null ? 0 : MAX_MAPS - m.freeCount;
    }

    /**
     * Audits the grant tables' bookkeeping, as Xen audits its maptrack: for tests after a hostile
     * guest's turn, never on a data path (it walks every table). Each mapper's handles are free or
     * live, never both; each live handle maps, at its page of the mapper's window, a frame the named
     * granter owns, read-only unless the handle is writable; the mapper's window holds no mapping of
     * another domain's frame without a handle; and the pins on each grant are exactly its live
     * handles (between hypercalls, when no copy holds one).
     *
     * @return {@code null}, or the first inconsistency
     */
    public String audit() {
        int[][] reads = new int[Hypervisor.MAX_DOMAINS][];
        int[][] writes = new int[Hypervisor.MAX_DOMAINS][];
        for (int g = 0; g < Hypervisor.MAX_DOMAINS; g++) {
            if (readPins[g] != null) {
                reads[g] = new int[readPins[g].length];
                writes[g] = new int[readPins[g].length];
            }
        }
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            Domain mapper = hv.domain(id);
            if (mapper == null) {
                continue;
            }
            String problem = auditMaps(mapper, maps[id], reads, writes);
            if (problem != null) {
                return problem;
            }
        }
        for (int g = 0; g < Hypervisor.MAX_DOMAINS; g++) {
            if (readPins[g] != null && (!java.util.Arrays.equals(reads[g], readPins[g]) || !java.util.Arrays.equals(writes[g], writePins[g]))) {
                return "pins on the grants of domain " + g + " are not its live mappings";
            }
        }
        return null;
    }

    /** One mapper's handles ({@code m} is {@code null} for a domain that never mapped). */
    private String auditMaps(Domain mapper, Maps m, int[][] reads, int[][] writes) {
        if (m != null && m.freeCount == MAX_MAPS) {
            m = null;
        }
        boolean[] free = m == null ? null : new boolean[MAX_MAPS];
        for (int i = 0; m != null && i < m.freeCount; i++) {
            int h = m.free[i];
            if (free[h] || m.host[h] != -1) {
                return mapper + ": handle " + h + " is free twice or free and mapped";
            }
            free[h] = true;
        }
        int live = 0;
        PageTable p2m = mapper.space().table();
        for (int h = 0; m != null && h < MAX_MAPS; h++) {
            if (free[h] || m.revoked[h]) {
                // A revoked handle holds no page (checked by the window count below) and no pin.
                continue;
            }
            live++;
            long t = p2m.translate(m.host[h]);
            if (m.orphan[h]) {
                long mfn = t < 0 ? -1 : Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT;
                if (!mapper.inWindow(m.host[h]) || t < 0 || !frames.isQuarantined(mfn) || orphanRefs[(int) mfn] <= 0
                    || hv.domain(m.granter[h]) != null) {
                    return mapper + ": orphaned handle " + h + " at 0x" + Long.toHexString(m.host[h])
                        + " does not map a frame in quarantine";
                }
                continue;
            }
            Domain granter = hv.domain(m.granter[h]);
            if (!mapper.inWindow(m.host[h]) || t < 0 || granter == null
                || frames.owner(Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT) != granter.id()
                || !m.writable[h] && Translation.allows(t, Translation.WRITE)) {
                return mapper + ": handle " + h + " at 0x" + Long.toHexString(m.host[h]) + " does not map a page of domain "
                    + m.granter[h] + (m.writable[h] ? "" : " read-only");
            }
            if (!m.foreign[h]) {
                int[] r = reads[granter.id()];
                if (r == null || m.ref[h] < 0 || m.ref[h] >= r.length) {
                    return mapper + ": handle " + h + " names grant " + m.ref[h] + " outside the table of " + granter;
                }
                r[m.ref[h]]++;
                writes[granter.id()][m.ref[h]] += m.writable[h] ? 1 : 0;
            }
        }
        int[] foreignPages = new int[1];
        long window = mapper.windowStart();
        long windowEnd = window + ((long) Domain.WINDOW_PAGES << MachineMemory.PAGE_SHIFT);
        PageWalker.visit(memory, p2m.rootMa(), p2m.levels(), window, windowEnd, (gpa, translation) -> {
            int owner = frames.owner(Translation.pageBase(translation) >>> MachineMemory.PAGE_SHIFT);
            if (owner >= 0 && owner < Hypervisor.MAX_DOMAINS || owner == FrameAllocator.OWNER_QUARANTINE) {
                foreignPages[0]++;
            }
        });
        return foreignPages[0] == live ? null
            : mapper + ": " + foreignPages[0] + " pages of other domains in the mapping window, " + live + " live handles";
    }

    @Override
    public String kind() {
        return "grant mapping";
    }

    /** Every live grant or foreign mapping of a live granter's frame: one binding per handle. */
    @Override
    public void forEach(Visitor v) {
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            Maps m = maps[id];
            Domain mapper = m == null ? null : hv.domain(id);
            for (int h = 0; mapper != null && h < MAX_MAPS; h++) {
                if (m.host[h] != -1 && !m.orphan[h] && !m.revoked[h]) {
                    Domain granter = hv.domain(m.granter[h]);
                    if (granter != null) {
                        v.binding(mapper, granter);
                    }
                }
            }
        }
    }

    /**
     * Takes every mapping {@code a} holds of {@code b}'s frames, and {@code b} of {@code a}'s, out of
     * the mapper's window with the shoot-down an unmap makes (CPU TLBs; the IOTLB synchronously, so
     * a device behind the IOMMU can no longer reach the page), and unpins the grants, so that the
     * granter can end them. Each handle stays with its mapper, revoked, until it unmaps it. Without
     * the IOMMU a device of the mapper's could still reach the frame by its machine address: as with
     * every unmap, nothing in software stops that.
     */
    @Override
    public int revoke(Domain a, Domain b) {
        return revokeMaps(a, b) + revokeMaps(b, a);
    }

    private int revokeMaps(Domain mapper, Domain granter) {
        Maps m = maps[mapper.id()];
        int n = 0;
        for (int h = 0; m != null && h < MAX_MAPS; h++) {
            if (m.host[h] == -1 || m.orphan[h] || m.revoked[h] || m.granter[h] != granter.id()) {
                continue;
            }
            mapper.space().table().unmap(m.host[h]);
            hv.flushTlbs(mapper, m.host[h]);
            if (!m.foreign[h]) {
                unpin(granter, m.ref[h], m.writable[h]);
            }
            m.revoked[h] = true;
            n++;
        }
        revoked += n;
        return n;
    }

    /** Mappings a policy change revoked. */
    public long revoked() {
        return revoked;
    }

    public long mapped() {
        return mapped;
    }

    public long unmapped() {
        return unmapped;
    }

    public long copies() {
        return copies;
    }

    public long refused() {
        return refused;
    }
}
