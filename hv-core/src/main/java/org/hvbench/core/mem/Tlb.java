package org.hvbench.core.mem;

/**
 * A set-associative translation cache, used as the CPU's TLB and as the IOMMU's IOTLB.
 *
 * <p>Every entry carries the address-space id (ASID, VPID, or the IOMMU's domain id) it was filled
 * for, and a lookup matches it. What tagging changes is the address-space switch: an untagged TLB
 * must forget everything on each switch ({@link #onAddressSpaceSwitch} flushes), a tagged one keeps
 * the entries of the other spaces, so their later accesses still hit. That is the effect of tagged
 * TLBs on context-switch cost that Karger and Safford (2008, section 4.3) point to.
 *
 * <p>Superpages are cached as such: a lookup probes the 4 KiB sets, then, while any superpage entry
 * is held, the 2 MiB and 1 GiB sets, so one entry serves a whole superpage. Replacement within a set
 * is round-robin. Single-owner: one CPU (or the device's IOMMU path) uses a TLB; invalidation from
 * another party goes through that owner.
 *
 * <p>An entry is two adjacent longs, a key and the {@link Translation}. The key packs everything a
 * lookup compares, so a way costs one comparison:
 * <pre>
 * | bits  | field                                                         |
 * |-------|---------------------------------------------------------------|
 * | 0-15  | address-space id                                              |
 * | 16-17 | page size: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB                     |
 * | 18-62 | page number (address >>> page shift; 45 bits cover 57-bit addresses) |
 * </pre>
 * An empty way holds {@link #EMPTY}, which no key equals (bit 63 is never set in a key).
 *
 * <p>An address at or above {@link #VA_LIMIT} has a page number the key cannot hold: it is never
 * looked up (it misses, and the walker, which covers at most 57 bits, refuses it), never inserted,
 * and never flushed, so it cannot hit or drop the entry of the page its low bits name. Such an
 * address is a guest's or a device's to choose: a gpa in a hypercall's arguments, an iova.
 */
public final class Tlb {
    /** Returned by {@link #lookup} on a miss; translations are never negative. */
    public static final long MISS = -1L;
    public static final int MAX_WAYS = 16;
    public static final int MAX_ASID = 0xFFFF;
    private static final long EMPTY = -1L;
    /** Address bits a key holds: the 57 that 5 table levels cover (45 bits of 4 KiB page number). */
    private static final int VA_BITS = 57;
    /** The first address whose 4 KiB page number does not fit a key. */
    public static final long VA_LIMIT = 1L << VA_BITS;

    private final int sets;
    private final int ways;
    private final int setMask;
    /** log2 of a set's stride in {@link #entries} (2 longs per way, ways rounded up to a power of two). */
    private final int setShift;
    private final boolean tagged;
    private final long[] entries;
    private final byte[] nextVictim;
    private int superpageEntries;

    private long hits;
    private long misses;
    private long flushes;
    private long evictions;

    /**
     * @param sets a power of two from 1 to 65536
     * @param ways 1 to {@value #MAX_WAYS}
     * @param tagged whether entries of other address spaces survive an address-space switch
     * @throws IllegalArgumentException naming {@code tlbSets} or {@code tlbWays}
     */
    public Tlb(int sets, int ways, boolean tagged) {
        checkGeometry(sets, ways);
        this.sets = sets;
        this.ways = ways;
        this.setMask = sets - 1;
        this.setShift = 1 + Integer.numberOfTrailingZeros(Integer.highestOneBit(ways * 2 - 1));
        this.tagged = tagged;
        this.entries = new long[sets << setShift];
        this.nextVictim = new byte[sets];
        clear();
    }

    /** @throws IllegalArgumentException naming {@code tlbSets} or {@code tlbWays} */
    public static void checkGeometry(int sets, int ways) {
        if (sets < 1 || sets > 65536 || Integer.bitCount(sets) != 1) {
            throw new IllegalArgumentException("tlbSets: " + sets + " is not allowed; use a power of two from 1 to 65536");
        }
        if (ways < 1 || ways > MAX_WAYS) {
            throw new IllegalArgumentException("tlbWays: " + ways + " is not allowed; use 1 to " + MAX_WAYS);
        }
    }

    public int sets() {
        return sets;
    }

    public int ways() {
        return ways;
    }

    public boolean tagged() {
        return tagged;
    }

    private static long key(int asid, long pageNumber, int sizeCode) {
        return pageNumber << 18 | (long) sizeCode << 16 | (asid & MAX_ASID);
    }

    private static int sizeCode(int shift) {
        return (shift - PageTable.SHIFT_4K) / 9;
    }

    /** The cached {@link Translation} of {@code va} in address space {@code asid}, or {@link #MISS}. */
    public long lookup(int asid, long va) {
        if (va >>> VA_BITS != 0) {
            // Beyond what a key holds (negative included): its key would be that of its low bits.
            misses++;
            return MISS;
        }
        // The 4 KiB probe written out: it is the hit path of every translation.
        long pageNumber = va >>> PageTable.SHIFT_4K;
        long key = pageNumber << 18 | (asid & MAX_ASID);
        long[] e = entries;
        int i = ((int) pageNumber & setMask) << setShift;
        int end = i + 2 * ways;
        while (i < end) {
            if (e[i] == key) {
                hits++;
                return e[i + 1];
            }
            i += 2;
        }
        long t = MISS;
        if (superpageEntries > 0) {
            t = probe(asid, va, PageTable.SHIFT_2M);
            if (t == MISS) {
                t = probe(asid, va, PageTable.SHIFT_1G);
            }
        }
        if (t == MISS) {
            misses++;
        } else {
            hits++;
        }
        return t;
    }

    private long probe(int asid, long va, int shift) {
        long pageNumber = va >>> shift;
        long key = key(asid, pageNumber, sizeCode(shift));
        int i = ((int) pageNumber & setMask) << setShift;
        for (int end = i + 2 * ways; i < end; i += 2) {
            if (entries[i] == key) {
                return entries[i + 1];
            }
        }
        return MISS;
    }

    /**
     * Caches a translation the walker produced for {@code va}; evicts round-robin within the set.
     *
     * @throws IllegalArgumentException for {@code va} at or above {@link #VA_LIMIT}, which no walk translates
     */
    public void insert(int asid, long va, long translation) {
        if (va >>> VA_BITS != 0) {
            throw new IllegalArgumentException("TLB insert of 0x" + Long.toHexString(va) + ", beyond the " + VA_BITS + " bits a table covers");
        }
        int shift = Translation.pageShift(translation);
        long pageNumber = va >>> shift;
        int set = (int) pageNumber & setMask;
        int base = set << setShift;
        int slot = -1;
        for (int i = base, end = base + 2 * ways; i < end; i += 2) {
            if (entries[i] == EMPTY) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            slot = base + 2 * nextVictim[set];
            nextVictim[set] = (byte) ((nextVictim[set] + 1) % ways);
            evictions++;
            forget(slot);
        }
        entries[slot] = key(asid, pageNumber, sizeCode(shift));
        entries[slot + 1] = translation;
        if (shift != PageTable.SHIFT_4K) {
            superpageEntries++;
        }
    }

    /** An address-space switch: an untagged TLB forgets everything, a tagged one keeps its entries. */
    public void onAddressSpaceSwitch() {
        if (!tagged) {
            flushAll();
        }
    }

    public void flushAll() {
        clear();
        flushes++;
    }

    private void clear() {
        for (int i = 0; i < entries.length; i += 2) {
            entries[i] = EMPTY;
        }
        superpageEntries = 0;
    }

    /**
     * Checks every entry of address space {@code asid} against the table it caches, the one at
     * {@code rootMa}: {@code null} when each entry is what a walk gives now, else the first stale one.
     * For tests: an entry that outlives the invalidation an unmap owes is the bug this finds.
     */
    public String audit(int asid, MachineMemory memory, long rootMa, int levels) {
        for (int i = 0; i < entries.length; i += 2) {
            long key = entries[i];
            if (key == EMPTY || (int) (key & MAX_ASID) != (asid & MAX_ASID)) {
                continue;
            }
            long va = key >>> 18 << PageTable.SHIFT_4K + 9 * (int) (key >>> 16 & 3);
            long walked = PageWalker.walk(memory, rootMa, levels, va);
            if (walked != entries[i + 1]) {
                return "address space " + asid + ": the entry for 0x" + Long.toHexString(va) + " caches 0x"
                    + Long.toHexString(entries[i + 1]) + " but the table gives " + (walked < 0 ? "nothing" : "0x" + Long.toHexString(walked));
            }
        }
        return null;
    }

    /** Forgets every entry of one address space (after its page table changed wholesale). */
    public void flushAsid(int asid) {
        for (int i = 0; i < entries.length; i += 2) {
            if (entries[i] != EMPTY && (int) (entries[i] & MAX_ASID) == (asid & MAX_ASID)) {
                forget(i);
            }
        }
        flushes++;
    }

    /** Forgets whatever entry of {@code asid} covers {@code va}, at any page size (after an unmap). */
    public void flushPage(int asid, long va) {
        if (va >>> VA_BITS != 0) {
            // Nothing is cached there; a probe would drop the entry of its low bits.
            flushes++;
            return;
        }
        flushProbe(asid, va, PageTable.SHIFT_4K);
        if (superpageEntries > 0) {
            flushProbe(asid, va, PageTable.SHIFT_2M);
            flushProbe(asid, va, PageTable.SHIFT_1G);
        }
        flushes++;
    }

    private void flushProbe(int asid, long va, int shift) {
        long pageNumber = va >>> shift;
        long key = key(asid, pageNumber, sizeCode(shift));
        int i = ((int) pageNumber & setMask) << setShift;
        for (int end = i + 2 * ways; i < end; i += 2) {
            if (entries[i] == key) {
                forget(i);
            }
        }
    }

    private void forget(int slot) {
        if (entries[slot] != EMPTY && ((entries[slot] >>> 16) & 3) != 0) {
            superpageEntries--;
        }
        entries[slot] = EMPTY;
    }

    /** Number of valid entries now held. */
    public int validEntries() {
        int n = 0;
        for (int i = 0; i < entries.length; i += 2) {
            if (entries[i] != EMPTY) {
                n++;
            }
        }
        return n;
    }

    public long hits() {
        return hits;
    }

    public long misses() {
        return misses;
    }

    public long flushes() {
        return flushes;
    }

    public long evictions() {
        return evictions;
    }
}
