package org.hvbench.core.mem;

import org.hvbench.core.Errno;

/**
 * Hands out machine frames and records who owns each one, so isolation can be checked: the owner
 * table answers "whose frame is this?" for every machine frame number.
 *
 * <p>Free frames are a bitmap searched next-fit from a cursor; {@link #allocateContiguous} finds an
 * aligned run for superpages. Frames are zeroed when they are allocated (scrubbed before they change
 * hands). Not thread-safe: the hypervisor (or the native kernel) builds memory before any party runs.
 *
 * <p><b>Quarantine.</b> A frame that leaves its owner while something outside the owner may still
 * reach it (another domain's grant or foreign mapping, and through that domain's p2m its device's
 * DMA) is not freed: {@link #quarantine} hands it to {@link #OWNER_QUARANTINE}, which is neither free
 * nor any domain's, so no allocation can return it. Whoever held the last reference ends the
 * quarantine with {@link #releaseQuarantined}, which scrubs (zeroes) the frame and only then returns
 * it to the free pool: whatever a late DMA wrote into it never reaches the next owner, nor stays in
 * free memory.
 */
public final class FrameAllocator {
    /** Owner of a frame nobody holds. */
    public static final int OWNER_FREE = -1;
    /** Owner of frames the hypervisor keeps for itself (page tables, its device queues); Xen's DOMID_XEN. */
    public static final int OWNER_HYPERVISOR = 0x7FF2;
    /** Owner of frames that belong to the machine's own firmware and devices; Xen's DOMID_IO. */
    public static final int OWNER_IO = 0x7FF1;
    /**
     * Owner of frames of a destroyed domain that another domain (and its device) may still reach: held
     * back from the free pool until the last reference goes, then scrubbed ({@link #quarantine}).
     */
    public static final int OWNER_QUARANTINE = 0x7FF0;

    /** Told of every change of a frame's owner (the IOMMU's exclusion vector follows the hypervisor's frames). */
    @FunctionalInterface
    public interface OwnerListener {
        void onOwner(long mfn, int owner);
    }

    private final MachineMemory memory;
    private final int frames;
    private OwnerListener listener;
    private final long[] freeBits;
    private final int[] owner;
    private int freeFrames;
    private int quarantined;
    private long quarantinedTotal;
    private long scrubbedTotal;
    private int cursor;

    public FrameAllocator(MachineMemory memory) {
        this.memory = memory;
        this.frames = memory.frames();
        this.freeBits = new long[(frames + 63) >>> 6];
        this.owner = new int[frames];
        for (int mfn = 0; mfn < frames; mfn++) {
            freeBits[mfn >>> 6] |= 1L << mfn;
            owner[mfn] = OWNER_FREE;
        }
        this.freeFrames = frames;
    }

    public MachineMemory memory() {
        return memory;
    }

    /** Set-up: who hears of owner changes from now on ({@code null} for nobody). */
    public void setOwnerListener(OwnerListener listener) {
        this.listener = listener;
    }

    public int frames() {
        return frames;
    }

    public int freeFrames() {
        return freeFrames;
    }

    /** The owner of a frame, or {@link #OWNER_FREE}; {@code -EINVAL} for a frame number outside memory. */
    public int owner(long mfn) {
        if (mfn < 0 || mfn >= frames) {
            return -Errno.EINVAL;
        }
        return owner[(int) mfn];
    }

    /** Allocates and zeroes one frame for {@code newOwner}: its frame number, or {@code -ENOMEM}. */
    public long allocate(int newOwner) {
        checkOwner(newOwner);
        if (freeFrames == 0) {
            return -Errno.ENOMEM;
        }
        int words = freeBits.length;
        int word = cursor >>> 6;
        for (int scanned = 0; scanned <= words; scanned++) {
            long bits = freeBits[word];
            if (bits != 0) {
                int mfn = (word << 6) + Long.numberOfTrailingZeros(bits);
                take(mfn, newOwner);
                cursor = mfn + 1 < frames ? mfn + 1 : 0;
                return mfn;
            }
            word = word + 1 < words ? word + 1 : 0;
        }
        throw new IllegalStateException("free count " + freeFrames + " but no free bit: allocator corrupted");
    }

    /**
     * Allocates {@code count} contiguous frames whose first frame number is a multiple of
     * {@code alignFrames}: the first frame number, or {@code -ENOMEM} when no such run is free.
     */
    public long allocateContiguous(int count, int alignFrames, int newOwner) {
        checkOwner(newOwner);
        if (count <= 0 || alignFrames <= 0 || Integer.bitCount(alignFrames) != 1) {
            throw new IllegalArgumentException("count must be > 0 and alignFrames a power of two; got count="
                + count + " alignFrames=" + alignFrames);
        }
        for (int start = 0; start + count <= frames; start += alignFrames) {
            int run = 0;
            while (run < count && isFree(start + run)) {
                run++;
            }
            if (run == count) {
                for (int i = 0; i < count; i++) {
                    take(start + i, newOwner);
                }
                return start;
            }
        }
        return -Errno.ENOMEM;
    }

    /** Frees a frame held by {@code expectedOwner}: 0, {@code -EINVAL} (no such frame) or {@code -EPERM} (not theirs). */
    public int free(long mfn, int expectedOwner) {
        if (mfn < 0 || mfn >= frames) {
            return -Errno.EINVAL;
        }
        int f = (int) mfn;
        if (owner[f] == OWNER_FREE || owner[f] == OWNER_QUARANTINE || owner[f] != expectedOwner) {
            // A frame in quarantine leaves it through releaseQuarantined only: scrubbed first.
            return -Errno.EPERM;
        }
        release(f);
        return 0;
    }

    private void release(int f) {
        owner[f] = OWNER_FREE;
        freeBits[f >>> 6] |= 1L << f;
        freeFrames++;
        if (listener != null) {
            listener.onOwner(f, OWNER_FREE);
        }
    }

    /**
     * Scrubs and frees every frame {@code who} holds (a destroyed domain's), so none of its data
     * stays in free memory.
     *
     * @return frames freed
     */
    public int reclaim(int who) {
        int n = 0;
        for (int mfn = 0; mfn < frames; mfn++) {
            if (owner[mfn] == who) {
                memory.zeroFrame(mfn);
                free(mfn, who);
                n++;
            }
        }
        return n;
    }

    /**
     * Takes a frame of {@code expectedOwner} out of its hands without freeing it: it becomes
     * {@link #OWNER_QUARANTINE}'s until {@link #releaseQuarantined}. For a frame of a domain being
     * destroyed that another domain (and so perhaps a device's DMA) may still reach.
     *
     * @throws IllegalArgumentException for a frame outside memory, or one {@code expectedOwner} does not hold
     *     (the hypervisor's own bookkeeping is wrong: no guest input reaches here)
     */
    public void quarantine(long mfn, int expectedOwner) {
        if (mfn < 0 || mfn >= frames) {
            throw new IllegalArgumentException("quarantine: frame " + mfn + " outside memory (0.." + (frames - 1) + ")");
        }
        int f = (int) mfn;
        if (owner[f] != expectedOwner || expectedOwner == OWNER_FREE || expectedOwner == OWNER_QUARANTINE) {
            throw new IllegalArgumentException("quarantine: frame " + mfn + " is held by " + owner[f] + ", not by "
                + expectedOwner);
        }
        owner[f] = OWNER_QUARANTINE;
        quarantined++;
        quarantinedTotal++;
        if (listener != null) {
            listener.onOwner(f, OWNER_QUARANTINE);
        }
    }

    /**
     * Ends the quarantine of a frame once nothing can reach it any more: scrubs it, then frees it.
     *
     * @throws IllegalArgumentException for a frame outside memory or not in quarantine
     */
    public void releaseQuarantined(long mfn) {
        if (mfn < 0 || mfn >= frames || owner[(int) mfn] != OWNER_QUARANTINE) {
            throw new IllegalArgumentException("releaseQuarantined: frame " + mfn + " is not in quarantine (owner "
                + owner(mfn) + ")");
        }
        // Scrubbed before it is free: what a DMA wrote after its owner died never reaches free memory.
        memory.zeroFrame(mfn);
        scrubbedTotal++;
        quarantined--;
        release((int) mfn);
    }

    /** True when the frame is in quarantine. */
    public boolean isQuarantined(long mfn) {
        return owner(mfn) == OWNER_QUARANTINE;
    }

    /** Frames in quarantine now. */
    public int quarantined() {
        return quarantined;
    }

    /** Frames ever put in quarantine. */
    public long quarantinedTotal() {
        return quarantinedTotal;
    }

    /** Frames scrubbed at the end of their quarantine. */
    public long scrubbedTotal() {
        return scrubbedTotal;
    }

    /** Number of frames held by {@code who}. */
    public int countOwnedBy(int who) {
        int n = 0;
        for (int mfn = 0; mfn < frames; mfn++) {
            if (owner[mfn] == who) {
                n++;
            }
        }
        return n;
    }

    /**
     * Checks the free bitmap against the owner table and the free count, as Xen audits its page
     * accounting: {@code null} when they agree, else the first disagreement. For tests; it reads every frame.
     */
    public String audit() {
        int free = 0;
        int held = 0;
        for (int mfn = 0; mfn < frames; mfn++) {
            if (isFree(mfn) != (owner[mfn] == OWNER_FREE)) {
                return "frame " + mfn + ": free bit " + isFree(mfn) + " but owner " + owner[mfn];
            }
            free += isFree(mfn) ? 1 : 0;
            held += owner[mfn] == OWNER_QUARANTINE ? 1 : 0;
        }
        if (held != quarantined) {
            return "quarantine count " + quarantined + " but " + held + " frames are in quarantine";
        }
        if ((frames & 63) != 0 && freeBits[freeBits.length - 1] >>> (frames & 63) != 0) {
            return "free bits set past the last frame";
        }
        return free == freeFrames ? null : "free count " + freeFrames + " but " + free + " frames are free";
    }

    private boolean isFree(int mfn) {
        return (freeBits[mfn >>> 6] & (1L << mfn)) != 0;
    }

    private void take(int mfn, int newOwner) {
        freeBits[mfn >>> 6] &= ~(1L << mfn);
        owner[mfn] = newOwner;
        freeFrames--;
        memory.zeroFrame(mfn);
        if (listener != null) {
            listener.onOwner(mfn, newOwner);
        }
    }

    private static void checkOwner(int newOwner) {
        if (newOwner < 0 || newOwner > 0x7FFF) {
            throw new IllegalArgumentException("owner must be a domain id from 0 to 0x7FFF; got " + newOwner);
        }
        if (newOwner == OWNER_QUARANTINE) {
            throw new IllegalArgumentException("owner: frames enter quarantine through quarantine(), never by allocation");
        }
    }
}
