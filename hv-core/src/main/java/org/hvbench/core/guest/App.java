package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.Translation;

/**
 * The application that issues asynchronous I/O: its control blocks (one page of
 * {@value Aio#MAX_DEPTH}) and its completion queue live in its own memory. It prepares control blocks,
 * submits them with one system call, and reaps completion events when its kernel signals it.
 */
public final class App {
    /** Results kept for inspection, indexed by user data modulo this. */
    public static final int RESULT_SLOTS = 4096;

    /** Takes each completion event the app reaps (an emulator acts on them; the default keeps results). */
    @FunctionalInterface
    public interface CompletionListener {
        void onCompletion(Cpu cpu, long userData, int result);

        /** Every event of one upcall has been passed on. */
        default void onBatchDone(Cpu cpu) {
        }
    }

    private final Kernel kernel;
    private final Kernel.Process process;
    private final OsMemory os;
    private final CompletionListener listener;
    private final MachineMemory memory;
    private final long iocbVa;
    private final QueueConsumer events;
    private final int depth;
    private final long[] results = new long[RESULT_SLOTS];
    private long completed;
    private long errors;
    private long upcalls;
    private long badEvents;

    /** Allocates the control blocks and the completion queue and registers the queue with the kernel. */
    public App(Cpu cpu, Kernel kernel, OsMemory os) {
        this(cpu, kernel, os, null);
    }

    /** As {@link #App(Cpu, Kernel, OsMemory)}, with a listener that also sees every completion. */
    public App(Cpu cpu, Kernel kernel, OsMemory os, CompletionListener listener) {
        this(cpu, kernel.process(), os, listener);
    }

    /** The app of one more process of a kernel ({@link Kernel#newProcess}). */
    public App(Cpu cpu, Kernel.Process process, OsMemory os, CompletionListener listener) {
        this.listener = listener;
        this.process = process;
        this.kernel = process.kernel();
        this.os = os;
        this.memory = os.memory();
        this.depth = kernel.maxInFlight();
        this.iocbVa = os.allocate(1);
        long eventsVa = os.allocate(MemoryQueue.pages(Aio.EVENT_BYTES, depth));
        this.events = new QueueConsumer(memory, cpu.view(os.space()), eventsVa, Aio.EVENT_BYTES, depth);
        kernel.attachApp(process, this, cpu, eventsVa, depth);
    }

    /** Fresh zeroed buffer pages in the app's memory. */
    public long allocateBuffer(int bytes) {
        return os.allocate((int) ((bytes + MachineMemory.PAGE_MASK) >>> MachineMemory.PAGE_SHIFT));
    }

    /**
     * Fills control block {@code slot} (app code, running on {@code cpu}).
     *
     * @param opcode {@link Aio#PREAD}, {@link Aio#PWRITE} or {@link Aio#FSYNC}
     */
    public void prepare(Cpu cpu, int slot, int opcode, long diskOffset, long bufferVa, int length, long userData) {
        if (slot < 0 || slot >= Aio.MAX_DEPTH) {
            throw new IllegalArgumentException("control block slot " + slot + " outside 0.." + (Aio.MAX_DEPTH - 1));
        }
        long iocb = cpu.translate(os.space(), iocbVa + (long) slot * Aio.IOCB_BYTES, Translation.WRITE);
        if (iocb < 0) {
            throw new IllegalStateException("the app's control blocks are not mapped: " + Errno.name(iocb));
        }
        memory.putShort(iocb + Aio.IOCB_OPCODE, (short) opcode);
        memory.putInt(iocb + Aio.IOCB_LENGTH, length);
        memory.putLong(iocb + Aio.IOCB_USER_DATA, userData);
        memory.putLong(iocb + Aio.IOCB_BUFFER, bufferVa);
        memory.putLong(iocb + Aio.IOCB_OFFSET, diskOffset);
    }

    /**
     * Submits control blocks {@code first .. first+count-1} with one system call.
     *
     * @return how many the kernel took (it may take fewer when its queues are full), or a negative errno
     */
    public long submit(Cpu cpu, int first, int count) {
        return process.syscall(cpu, Aio.SYS_IO_SUBMIT, iocbVa + (long) first * Aio.IOCB_BYTES, count, 0, 0);
    }

    /** The kernel's signal: reap every completion event. Events are checked before they are counted. */
    void onUpcall(Cpu cpu) {
        upcalls++;
        long n = events.available();
        if (n < 0 || n > depth) {
            badEvents++;
            return;
        }
        for (int i = 0; i < n; i++) {
            long slot = events.slot(i);
            if (slot < 0) {
                badEvents++;
                continue;
            }
            long userData = memory.getLong(slot + Aio.EVENT_USER_DATA);
            int result = memory.getInt(slot + Aio.EVENT_RESULT);
            results[(int) (userData & (RESULT_SLOTS - 1))] = result;
            completed++;
            if (result < 0) {
                errors++;
            }
            if (listener != null) {
                listener.onCompletion(cpu, userData, result);
            }
        }
        events.consume((int) n);
        if (listener != null) {
            listener.onBatchDone(cpu);
        }
    }

    /** The result of the last completed I/O with this user data: bytes, or a negative errno. */
    public long result(long userData) {
        return results[(int) (userData & (RESULT_SLOTS - 1))];
    }

    public long completed() {
        return completed;
    }

    public long errors() {
        return errors;
    }

    public long upcalls() {
        return upcalls;
    }

    public long badEvents() {
        return badEvents;
    }

    public int depth() {
        return depth;
    }

    /** The kernel's process this app is. */
    public Kernel.Process process() {
        return process;
    }

    public Kernel kernel() {
        return kernel;
    }

    public OsMemory memory() {
        return os;
    }
}
