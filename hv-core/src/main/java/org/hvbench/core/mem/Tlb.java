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
 */
public final class Tlb {
    /** Returned by {@link #lookup} on a miss; translations are never negative. */
    public static final long MISS = -1L;
    public static final int MAX_WAYS = 16;

    private final int sets;
    private final int ways;
    private final int setMask;
    private final boolean tagged;
    private final long[] pageNumbers;
    private final int[] asids;
    private final long[] translations;
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
        this.tagged = tagged;
        int entries = sets * ways;
        this.pageNumbers = new long[entries];
        this.asids = new int[entries];
        this.translations = new long[entries];
        this.nextVictim = new byte[sets];
        java.util.Arrays.fill(asids, -1);
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

    /** The cached {@link Translation} of {@code va} in address space {@code asid}, or {@link #MISS}. */
    public long lookup(int asid, long va) {
        long t = probe(asid, va, PageTable.SHIFT_4K);
        if (t == MISS && superpageEntries > 0) {
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
        int base = ((int) pageNumber & setMask) * ways;
        for (int i = base, end = base + ways; i < end; i++) {
            long t = translations[i];
            if (asids[i] == asid && pageNumbers[i] == pageNumber && Translation.pageShift(t) == shift) {
                return t;
            }
        }
        return MISS;
    }

    /** Caches a translation the walker produced for {@code va}; evicts round-robin within the set. */
    public void insert(int asid, long va, long translation) {
        int shift = Translation.pageShift(translation);
        long pageNumber = va >>> shift;
        int set = (int) pageNumber & setMask;
        int base = set * ways;
        int slot = -1;
        for (int i = base, end = base + ways; i < end; i++) {
            if (asids[i] < 0) {
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            slot = base + nextVictim[set];
            nextVictim[set] = (byte) ((nextVictim[set] + 1) % ways);
            evictions++;
            forget(slot);
        }
        pageNumbers[slot] = pageNumber;
        asids[slot] = asid;
        translations[slot] = translation;
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
        java.util.Arrays.fill(asids, -1);
        superpageEntries = 0;
        flushes++;
    }

    /** Forgets every entry of one address space (after its page table changed wholesale). */
    public void flushAsid(int asid) {
        for (int i = 0; i < asids.length; i++) {
            if (asids[i] == asid) {
                forget(i);
            }
        }
        flushes++;
    }

    /** Forgets whatever entry of {@code asid} covers {@code va}, at any page size (after an unmap). */
    public void flushPage(int asid, long va) {
        flushProbe(asid, va, PageTable.SHIFT_4K);
        if (superpageEntries > 0) {
            flushProbe(asid, va, PageTable.SHIFT_2M);
            flushProbe(asid, va, PageTable.SHIFT_1G);
        }
        flushes++;
    }

    private void flushProbe(int asid, long va, int shift) {
        long pageNumber = va >>> shift;
        int base = ((int) pageNumber & setMask) * ways;
        for (int i = base, end = base + ways; i < end; i++) {
            if (asids[i] == asid && pageNumbers[i] == pageNumber && Translation.pageShift(translations[i]) == shift) {
                forget(i);
            }
        }
    }

    private void forget(int slot) {
        if (asids[slot] >= 0 && Translation.pageShift(translations[slot]) != PageTable.SHIFT_4K) {
            superpageEntries--;
        }
        asids[slot] = -1;
    }

    /** Number of valid entries now held. */
    public int validEntries() {
        int n = 0;
        for (int asid : asids) {
            if (asid >= 0) {
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
