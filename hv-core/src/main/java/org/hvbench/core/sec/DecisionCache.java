package org.hvbench.core.sec;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The access-control module's small cache of permits, a row per domain (Xen's ACM kept one per
 * domain's STE state): which peers it was last allowed to share with. Only permits are cached, so a
 * miss always asks the policy again. Every entry carries the epoch of the policy that permitted it;
 * a lookup hits only an entry of the epoch it asks for, so a permit decided under an old policy can
 * never answer for a new one, even when it is written after the new policy cleared the cache (a
 * decision racing a policy change). Entries are written with release and read with acquire; the
 * row of a peer is its slot, {@code peer % WAYS}, so a row holds up to {@link #WAYS} peers at once.
 */
final class DecisionCache {
    static final int WAYS = 8;
    private static final VarHandle ENTRY = MethodHandles.arrayElementVarHandle(long[].class);

    private final int domains;
    private final long[] entries;

    DecisionCache(int domains) {
        this.domains = domains;
        this.entries = new long[domains * WAYS];
    }

    /** An entry: the epoch (at least 1) above, the peer plus one below, so 0 is empty. */
    private static long entry(int epoch, int peer) {
        return (long) epoch << 32 | (peer + 1L);
    }

    private int slot(int domain, int peer) {
        return domain * WAYS + peer % WAYS;
    }

    private boolean inRange(int domain, int peer) {
        return domain >= 0 && domain < domains && peer >= 0 && peer < domains;
    }

    /** Did the policy of {@code epoch} permit {@code domain} to share with {@code peer}, as cached? */
    boolean permits(int epoch, int domain, int peer) {
        return inRange(domain, peer) && (long) ENTRY.getAcquire(entries, slot(domain, peer)) == entry(epoch, peer);
    }

    /** The policy of {@code epoch} permits the two to share: remembered in both rows. */
    void remember(int epoch, int domain, int peer) {
        if (inRange(domain, peer)) {
            ENTRY.setRelease(entries, slot(domain, peer), entry(epoch, peer));
            ENTRY.setRelease(entries, slot(peer, domain), entry(epoch, domain));
        }
    }

    /** {@code domain} is gone (its id may be reused): its row, and every entry naming it, cleared. */
    void forget(int domain) {
        if (domain < 0 || domain >= domains) {
            return;
        }
        for (int w = 0; w < WAYS; w++) {
            ENTRY.setRelease(entries, domain * WAYS + w, 0L);
        }
        for (int d = 0; d < domains; d++) {
            int s = slot(d, domain);
            long e = (long) ENTRY.getAcquire(entries, s);
            if ((e & 0xFFFF_FFFFL) == domain + 1L) {
                ENTRY.setRelease(entries, s, 0L);
            }
        }
    }

    /** A new policy is active: everything cached goes (the epochs already keep old entries from hitting). */
    void clear() {
        for (int i = 0; i < entries.length; i++) {
            ENTRY.setRelease(entries, i, 0L);
        }
    }

    /** Entries held now, for tests. */
    int size() {
        int n = 0;
        for (int i = 0; i < entries.length; i++) {
            n += (long) ENTRY.getAcquire(entries, i) != 0 ? 1 : 0;
        }
        return n;
    }
}
