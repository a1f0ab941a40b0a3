package org.hvbench.core.guest;

/**
 * The asynchronous I/O interface between an application and its kernel, after Linux AIO: the app
 * fills I/O control blocks in its memory and submits them with one system call; the kernel posts
 * completion events into a {@link org.hvbench.core.mem.MemoryQueue} in the app's memory and signals
 * the app (an upcall). Offsets and buffers are direct I/O: 512-byte aligned.
 *
 * <pre>
 * I/O control block, 32 bytes:
 * | offset | size | field                                          |
 * |--------|------|------------------------------------------------|
 * | 0      | 2    | opcode: PREAD 0, PWRITE 1, FSYNC 2 (Linux's)    |
 * | 4      | 4    | length in bytes                                |
 * | 8      | 8    | user data, returned in the event               |
 * | 16     | 8    | buffer address                                 |
 * | 24     | 8    | disk offset in bytes                           |
 *
 * Completion event, 16 bytes:
 * | 0      | 8    | user data                                      |
 * | 8      | 4    | result: bytes transferred, or a negative errno |
 * </pre>
 */
public final class Aio {
    public static final int SYS_IO_SUBMIT = 209;

    public static final int PREAD = 0;
    public static final int PWRITE = 1;
    public static final int FSYNC = 2;

    public static final int IOCB_BYTES = 32;
    public static final int IOCB_OPCODE = 0;
    public static final int IOCB_LENGTH = 4;
    public static final int IOCB_USER_DATA = 8;
    public static final int IOCB_BUFFER = 16;
    public static final int IOCB_OFFSET = 24;

    public static final int EVENT_BYTES = 16;
    public static final int EVENT_USER_DATA = 0;
    public static final int EVENT_RESULT = 8;

    /** Largest single I/O: 32 pages plus a partial one, at most 4 block requests of 11 segments. */
    public static final int MAX_IO_BYTES = 128 << 10;
    /** I/O control blocks in the app's one page. */
    public static final int MAX_DEPTH = 128;

    private Aio() {
    }
}
