package org.hvbench.core.mem;

/**
 * A translation packed in one {@code long}, as the page walker returns it and the TLB caches it:
 *
 * <pre>
 * | bits  | field                                                      |
 * |-------|------------------------------------------------------------|
 * | 0     | READ permission  (same bit as {@link PageTable#READ})      |
 * | 1     | WRITE permission (same bit as {@link PageTable#WRITE})     |
 * | 12-51 | machine address of the page (4 KiB, 2 MiB or 1 GiB aligned)|
 * | 56-61 | page shift: 12, 21 or 30                                   |
 * </pre>
 *
 * Bit 63 is clear, so a translation is never negative: negative values are errno faults.
 */
public final class Translation {
    public static final int READ = 1;
    public static final int WRITE = 2;
    public static final int PERMISSIONS = READ | WRITE;

    private static final long BASE_MASK = 0x000F_FFFF_FFFF_F000L;
    private static final int SHIFT_POSITION = 56;

    private Translation() {
    }

    public static long of(long pageBaseMa, int pageShift, int permissions) {
        return (pageBaseMa & BASE_MASK) | (permissions & PERMISSIONS) | ((long) pageShift << SHIFT_POSITION);
    }

    public static long pageBase(long translation) {
        return translation & BASE_MASK;
    }

    public static int pageShift(long translation) {
        return (int) (translation >>> SHIFT_POSITION) & 0x3F;
    }

    public static int permissions(long translation) {
        return (int) translation & PERMISSIONS;
    }

    /** True when every bit of {@code access} (READ, WRITE) is granted. */
    public static boolean allows(long translation, int access) {
        return (permissions(translation) & access) == access;
    }

    /** The machine address of {@code va} within the translated page. */
    public static long machineAddress(long translation, long va) {
        return pageBase(translation) + (va & ((1L << pageShift(translation)) - 1));
    }
}
