package org.hvbench.core.mem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TlbTest {
    private static long page(long ma) {
        return Translation.of(ma, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
    }

    @Test
    void missThenHit() {
        Tlb tlb = new Tlb(16, 4, false);
        assertEquals(Tlb.MISS, tlb.lookup(1, 0x5000));
        tlb.insert(1, 0x5000, page(0x9000));
        assertEquals(page(0x9000), tlb.lookup(1, 0x5abc));
        assertEquals(Tlb.MISS, tlb.lookup(2, 0x5000), "another address space does not hit");
        assertEquals(1, tlb.hits());
        assertEquals(2, tlb.misses());
    }

    @Test
    void untaggedTlbForgetsEverythingOnAnAddressSpaceSwitch() {
        Tlb tlb = new Tlb(16, 4, false);
        tlb.insert(1, 0x5000, page(0x9000));
        tlb.insert(2, 0x6000, page(0xa000));
        tlb.onAddressSpaceSwitch();
        assertEquals(0, tlb.validEntries());
        assertEquals(Tlb.MISS, tlb.lookup(1, 0x5000));
    }

    @Test
    void taggedTlbKeepsOtherSpacesAcrossASwitch() {
        Tlb tlb = new Tlb(16, 4, true);
        tlb.insert(1, 0x5000, page(0x9000));
        tlb.insert(2, 0x6000, page(0xa000));
        tlb.onAddressSpaceSwitch();
        assertEquals(page(0x9000), tlb.lookup(1, 0x5000));
        assertEquals(page(0xa000), tlb.lookup(2, 0x6000));
        tlb.flushAsid(1);
        assertEquals(Tlb.MISS, tlb.lookup(1, 0x5000));
        assertEquals(page(0xa000), tlb.lookup(2, 0x6000));
    }

    @Test
    void aFullSetEvictsRoundRobin() {
        Tlb tlb = new Tlb(1, 2, false);
        tlb.insert(1, 0x1000, page(0x10000));
        tlb.insert(1, 0x2000, page(0x20000));
        tlb.insert(1, 0x3000, page(0x30000));
        assertEquals(Tlb.MISS, tlb.lookup(1, 0x1000), "the oldest went");
        assertEquals(page(0x20000), tlb.lookup(1, 0x2000));
        assertEquals(page(0x30000), tlb.lookup(1, 0x3000));
        assertEquals(1, tlb.evictions());
    }

    @Test
    void oneSuperpageEntryServesTheWholeSuperpage() {
        Tlb tlb = new Tlb(16, 4, false);
        long t = Translation.of(0x400000, PageTable.SHIFT_2M, Translation.READ);
        tlb.insert(3, 0x600000, t);
        assertEquals(t, tlb.lookup(3, 0x600000));
        assertEquals(t, tlb.lookup(3, 0x7ff000));
        assertEquals(Tlb.MISS, tlb.lookup(3, 0x800000));
        tlb.flushPage(3, 0x654000);
        assertEquals(Tlb.MISS, tlb.lookup(3, 0x600000), "a flush of any page inside drops the superpage");
    }

    @Test
    void flushPageDropsOnlyThatPage() {
        Tlb tlb = new Tlb(16, 4, false);
        tlb.insert(1, 0x5000, page(0x9000));
        tlb.insert(1, 0x6000, page(0xa000));
        tlb.flushPage(1, 0x5000);
        assertEquals(Tlb.MISS, tlb.lookup(1, 0x5000));
        assertEquals(page(0xa000), tlb.lookup(1, 0x6000));
    }

    /**
     * An entry's key holds 45 bits of page number, enough for the 57 bits of address a 5-level table
     * covers. An address above that (a hostile guest's gpa or a device's iova) must miss, so that the
     * walker refuses it, and never hit the entry of the page its low bits name.
     */
    @Test
    void anAddressBeyondWhatTheKeyHoldsNeverHitsTheEntryOfItsLowBits() {
        Tlb tlb = new Tlb(16, 4, true);
        tlb.insert(1, 0x10000, page(0x9000));
        tlb.insert(1, (1L << 57) - 0x1000, page(0xa000));
        for (long alias : new long[] {0x0400000000010100L, 1L << 57 | 0x10000, 0x8000000000010000L, 0xFFFF800000010000L}) {
            assertEquals(Tlb.MISS, tlb.lookup(1, alias), () -> "0x" + Long.toHexString(alias));
            tlb.flushPage(1, alias);
        }
        assertEquals(page(0x9000), tlb.lookup(1, 0x10000), "a flush of an alias drops nothing");
        assertEquals(page(0xa000), tlb.lookup(1, (1L << 57) - 1), "the last page below the limit still hits");
        assertEquals(4, tlb.misses());
        assertThrows(IllegalArgumentException.class, () -> tlb.insert(1, 1L << 57, page(0xb000)),
            "no walker translates such an address");
        assertThrows(IllegalArgumentException.class, () -> tlb.insert(1, -4096L, page(0xb000)));
    }

    @Test
    void geometryIsChecked() {
        assertEquals("tlbSets: 3 is not allowed; use a power of two from 1 to 65536",
            assertThrows(IllegalArgumentException.class, () -> new Tlb(3, 4, false)).getMessage());
        assertEquals("tlbWays: 0 is not allowed; use 1 to 16",
            assertThrows(IllegalArgumentException.class, () -> new Tlb(4, 0, false)).getMessage());
    }
}
