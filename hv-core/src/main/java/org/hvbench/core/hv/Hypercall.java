package org.hvbench.core.hv;

/**
 * Hypercall numbers and sub-operations of the register ABI
 * {@code long hypercall(cpu, op, a0, a1, a2, a3)}. Numbers shared with Xen keep Xen's values
 * ({@code xen/include/public/xen.h}); the block service, which Xen does not have (its drivers live in
 * dom0), takes the first of Xen's architecture-specific slots.
 *
 * <pre>
 * | op             | a0           | a1                 | a2        | result                          |
 * |----------------|--------------|--------------------|-----------|---------------------------------|
 * | MULTICALL 13   | gpa of calls | count (1..32)      |           | 0; each call's result written back |
 * | CONSOLE_IO 18  | CONSOLE_WRITE| length (0..256)    | gpa       | bytes written                   |
 * | BLOCK_IO 48    | BLOCK_SETUP  | gpa of response queue page | entries | 0                         |
 * | BLOCK_IO 48    | BLOCK_SUBMIT | gpa of blkif requests | count (1..32) | requests accepted (all)  |
 * </pre>
 *
 * A multicall entry is 64 bytes: op u64 at 0, result u64 at 8 (written by the hypervisor), a0..a3 u64
 * at 16, 24, 32, 40. A multicall may not contain a multicall.
 */
public final class Hypercall {
    public static final int MULTICALL = 13;
    public static final int CONSOLE_IO = 18;
    public static final int BLOCK_IO = 48;

    public static final int CONSOLE_WRITE = 0;
    public static final int CONSOLE_MAX_BYTES = 256;

    public static final int BLOCK_SETUP = 0;
    public static final int BLOCK_SUBMIT = 1;

    public static final int MULTICALL_MAX = 32;
    public static final int MULTICALL_ENTRY_BYTES = 64;
    public static final int MULTICALL_OP = 0;
    public static final int MULTICALL_RESULT = 8;
    public static final int MULTICALL_ARGS = 16;

    private Hypercall() {
    }

    public static String name(int op) {
        switch (op) {
            case MULTICALL: return "multicall";
            case CONSOLE_IO: return "console_io";
            case BLOCK_IO: return "block_io";
            default: return "hypercall " + op;
        }
    }
}
