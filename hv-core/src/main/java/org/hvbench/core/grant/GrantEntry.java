package org.hvbench.core.grant;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;

/**
 * A grant entry, version 1 of Xen's grant table ({@code xen/include/public/grant_table.h}): the
 * granting domain writes it in its table to let one other domain map or copy one of its frames.
 *
 * <pre>
 * | offset | size | field                                                                 |
 * |--------|------|-----------------------------------------------------------------------|
 * | 0      | 2    | flags: type (bits 0-1: 0 invalid, 1 permit access), READONLY, READING, WRITING |
 * | 2      | 2    | domid: the domain allowed to use the grant                             |
 * | 4      | 4    | frame: the granted guest frame                                         |
 * </pre>
 *
 * Flags and domid are one 32-bit word, so both sides change them with one compare-and-set: the
 * granter publishes the frame, then the word with release order; the hypervisor sets READING or
 * WRITING while the frame is mapped or copied; the granter revokes by compare-and-set of the word to
 * zero, which fails while either of those is set.
 */
public final class GrantEntry {
    public static final int BYTES = 8;
    public static final int WORD = 0;
    public static final int FRAME = 4;
    public static final int PER_PAGE = 4096 / BYTES;

    public static final int TYPE_MASK = 3;
    public static final int PERMIT_ACCESS = 1;
    public static final int READONLY = 1 << 2;
    public static final int READING = 1 << 3;
    public static final int WRITING = 1 << 4;
    public static final int IN_USE = READING | WRITING;

    /** Tries of a compare-and-set that loses to the granter changing the entry. */
    static final int CAS_TRIES = 16;

    private GrantEntry() {
    }

    /**
     * The hypervisor's half of the protocol: checks the entry at {@code entryMa} for {@code user} and
     * marks it READING (and WRITING) with one compare-and-set (a full fence), so that a concurrent
     * revocation either happens first (and the pin fails) or fails itself.
     *
     * @return 0; {@code -EACCES} not granted to {@code user}; {@code -EPERM} read-only for a writer;
     *     {@code -EBUSY} when the granter kept changing the entry
     */
    public static int pin(MachineMemory memory, long entryMa, int user, boolean writable) {
        int mark = READING | (writable ? WRITING : 0);
        for (int i = 0; i < CAS_TRIES; i++) {
            int word = memory.getIntVolatile(entryMa + WORD);
            int flags = flags(word);
            if ((flags & TYPE_MASK) != PERMIT_ACCESS || domid(word) != user) {
                return -Errno.EACCES;
            }
            if (writable && (flags & READONLY) != 0) {
                return -Errno.EPERM;
            }
            if (memory.compareAndSetInt(entryMa + WORD, word, word | mark)) {
                return 0;
            }
        }
        return -Errno.EBUSY;
    }

    /** Clears {@code bits} (READING, WRITING) of the entry with a bounded compare-and-set loop. */
    public static boolean clear(MachineMemory memory, long entryMa, int bits) {
        for (int i = 0; i < CAS_TRIES; i++) {
            int word = memory.getIntVolatile(entryMa + WORD);
            if (memory.compareAndSetInt(entryMa + WORD, word, word & ~bits)) {
                return true;
            }
        }
        return false;
    }

    public static int word(int flags, int domid) {
        return (flags & 0xFFFF) | (domid << 16);
    }

    public static int flags(int word) {
        return word & 0xFFFF;
    }

    public static int domid(int word) {
        return word >>> 16;
    }
}
