package org.hvbench.core.grant;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * A domain's own grant table, as its kernel sees it: pages of its memory, registered with the
 * hypervisor ({@code GNTTAB_SETUP}), holding {@link GrantEntry grant entries}, and the kernel's free
 * list of references. Accesses go through the kernel's translation.
 */
public final class GrantTable {
    /** Tries of a revocation whose compare-and-set lost to the hypervisor changing the flags. */
    private static final int REVOKE_TRIES = 16;

    private final MachineMemory memory;
    private final Translator translator;
    private final long tableGpa;
    private final int entries;
    private final int[] free;
    private int freeCount;

    /** @param tableGpa first of {@code pages} contiguous guest pages that hold the table */
    public GrantTable(MachineMemory memory, Translator translator, long tableGpa, int pages) {
        this.memory = memory;
        this.translator = translator;
        this.tableGpa = tableGpa;
        this.entries = pages * GrantEntry.PER_PAGE;
        this.free = new int[entries];
        // Reference 0 is reserved, as Xen reserves the first few for the toolstack.
        for (int ref = entries - 1; ref >= 1; ref--) {
            free[freeCount++] = ref;
        }
    }

    public int entries() {
        return entries;
    }

    public long tableGpa() {
        return tableGpa;
    }

    /** A free reference, or {@code -ENOSPC}. */
    public int allocate() {
        return freeCount == 0 ? -Errno.ENOSPC : free[--freeCount];
    }

    /** Puts a revoked reference back on the free list. */
    public void release(int ref) {
        free[freeCount++] = ref;
    }

    public int freeReferences() {
        return freeCount;
    }

    private long entry(int ref, int access) {
        if (ref < 0 || ref >= entries) {
            return -Errno.EINVAL;
        }
        return translator.translate(tableGpa + (long) ref * GrantEntry.BYTES, access);
    }

    /**
     * Lets {@code domid} use frame {@code gfn}: the frame first, then flags and domid with release
     * order, so the hypervisor that sees the flags sees the frame.
     */
    public int grant(int ref, int domid, long gfn, boolean readonly) {
        long e = entry(ref, Translation.READ | Translation.WRITE);
        if (e < 0) {
            return (int) e;
        }
        memory.putInt(e + GrantEntry.FRAME, (int) gfn);
        int flags = GrantEntry.PERMIT_ACCESS | (readonly ? GrantEntry.READONLY : 0);
        memory.putIntRelease(e + GrantEntry.WORD, GrantEntry.word(flags, domid));
        return 0;
    }

    /**
     * Ends a grant: compare-and-set of flags and domid to zero, which fails while the hypervisor has
     * the frame mapped or is copying (READING or WRITING set).
     *
     * @return 0, {@code -EBUSY} while the frame is in use (the entry is kept), or {@code -EINVAL}
     */
    public int revoke(int ref) {
        long e = entry(ref, Translation.READ | Translation.WRITE);
        if (e < 0) {
            return (int) e;
        }
        for (int i = 0; i < REVOKE_TRIES; i++) {
            int word = memory.getIntVolatile(e + GrantEntry.WORD);
            if ((GrantEntry.flags(word) & GrantEntry.IN_USE) != 0) {
                return -Errno.EBUSY;
            }
            if (memory.compareAndSetInt(e + GrantEntry.WORD, word, 0)) {
                return 0;
            }
        }
        return -Errno.EBUSY;
    }

    /** The flags and domid word of an entry (acquire), for tests and diagnostics. */
    public int word(int ref) {
        long e = entry(ref, Translation.READ);
        return e < 0 ? (int) e : memory.getIntAcquire(e + GrantEntry.WORD);
    }
}
