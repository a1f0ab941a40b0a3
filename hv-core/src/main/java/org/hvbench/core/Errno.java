package org.hvbench.core;

/**
 * Error numbers of the hypervisor ABI. A guest-visible operation returns a value {@code >= 0} on
 * success and the negated number on failure, as Xen's hypercalls do; the numbers are Linux's
 * ({@code asm-generic/errno-base.h}, {@code errno.h}), which Xen's public headers also use.
 *
 * <p>This class sits in the root package because every layer, from the page walker up, reports
 * faults with these numbers.
 */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EIO = 5;
    public static final int E2BIG = 7;
    public static final int EAGAIN = 11;
    public static final int ENOMEM = 12;
    public static final int EACCES = 13;
    public static final int EFAULT = 14;
    public static final int EBUSY = 16;
    public static final int EEXIST = 17;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int ENOSYS = 38;
    public static final int ENOTCONN = 107;
    public static final int ESHUTDOWN = 108;
    public static final int ETIMEDOUT = 110;
    public static final int ELOOP = 40;
    public static final int EOPNOTSUPP = 95;
    public static final int ECANCELED = 125;

    private Errno() {
    }

    /** The symbolic name of a negative result, e.g. {@code -14 -> "EFAULT"}; non-negative gives "OK". */
    public static String name(long result) {
        if (result >= 0) {
            return "OK";
        }
        switch ((int) -result) {
            case EPERM: return "EPERM";
            case ENOENT: return "ENOENT";
            case EIO: return "EIO";
            case E2BIG: return "E2BIG";
            case EAGAIN: return "EAGAIN";
            case ENOMEM: return "ENOMEM";
            case EACCES: return "EACCES";
            case EFAULT: return "EFAULT";
            case EBUSY: return "EBUSY";
            case EEXIST: return "EEXIST";
            case ENODEV: return "ENODEV";
            case EINVAL: return "EINVAL";
            case ENOSPC: return "ENOSPC";
            case ENOSYS: return "ENOSYS";
            case ENOTCONN: return "ENOTCONN";
            case ESHUTDOWN: return "ESHUTDOWN";
            case ETIMEDOUT: return "ETIMEDOUT";
            case ELOOP: return "ELOOP";
            case EOPNOTSUPP: return "EOPNOTSUPP";
            case ECANCELED: return "ECANCELED";
            default: return "E" + (-result);
        }
    }
}
