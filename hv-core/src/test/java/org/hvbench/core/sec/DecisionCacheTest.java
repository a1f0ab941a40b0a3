package org.hvbench.core.sec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The per-domain permit cache: epochs, both rows, a destroyed domain forgotten, collisions a miss. */
class DecisionCacheTest {
    private final DecisionCache cache = new DecisionCache(64);

    @Test
    void aPermitAnswersOnlyForItsEpochAndBothWaysRound() {
        cache.remember(3, 1, 2);
        assertTrue(cache.permits(3, 1, 2));
        assertTrue(cache.permits(3, 2, 1));
        assertFalse(cache.permits(4, 1, 2), "a later policy's epoch misses");
        assertFalse(cache.permits(3, 1, 5), "another peer misses");
    }

    @Test
    void aDestroyedDomainIsForgottenInItsRowAndInEveryOther() {
        cache.remember(1, 1, 2);
        cache.remember(1, 3, 2);
        cache.remember(1, 3, 4);
        cache.forget(2);
        assertFalse(cache.permits(1, 1, 2));
        assertFalse(cache.permits(1, 3, 2));
        assertFalse(cache.permits(1, 2, 3));
        assertTrue(cache.permits(1, 3, 4), "what does not name it stays");
    }

    @Test
    void peersThatShareASlotEvictEachOtherAndNeverAnswerForEachOther() {
        int p = 1;
        int q = 1 + DecisionCache.WAYS;
        cache.remember(1, 0, p);
        cache.remember(1, 0, q);
        assertTrue(cache.permits(1, 0, q));
        assertFalse(cache.permits(1, 0, p), "evicted: a miss asks the policy again");
    }

    @Test
    void outOfRangeIdsNeitherHitNorThrow() {
        cache.remember(1, -1, 70);
        assertFalse(cache.permits(1, -1, 70));
        assertEquals(0, cache.size());
        cache.clear();
        cache.remember(1, 5, 6);
        cache.clear();
        assertEquals(0, cache.size());
    }
}
