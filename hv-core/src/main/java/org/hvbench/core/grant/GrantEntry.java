package org.hvbench.core.grant;

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

    private GrantEntry() {
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
