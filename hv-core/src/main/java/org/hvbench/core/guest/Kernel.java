package org.hvbench.core.guest;

import java.util.Arrays;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.BlockBacking;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;

/**
 * An operating-system kernel, native or guest, reduced to its I/O path: the {@code io_submit}
 * system call, the split of each I/O into block requests of up to 11 page-bounded segments, the
 * completion events and the signal (upcall) to the application.
 *
 * <p>The system call is {@link Crossing#SYSCALL} in and {@link Crossing#SYSRET} out. Completions come
 * from the driver's interrupt handler; the kernel posts events and makes one {@link Crossing#UPCALL}
 * into the app for the batch. When completions arrive while the kernel is inside the system call
 * (an error found on the way in), the signal rides on the return to the app instead of the SYSRET.
 *
 * <p>A kernel has one user process, or more ({@link #newProcess}: an I/O partition runs one device
 * emulator per guest). Each process has its own completion queue and signal; the I/O slots and the
 * driver's queue are the kernel's, shared. When they are full, {@code io_submit} takes what fits;
 * a process that asked for it ({@link Process#signalWhenRoom}) is told by a signal once completions
 * have made room (Linux would sleep in {@code io_submit}; an upcall with no events stands for its
 * return).
 *
 * <p>Completions are checked: an unknown tag or a request completed twice is counted and ignored.
 */
public final class Kernel implements BlockCompletions {
    /** Block requests one I/O may need: {@link Aio#MAX_IO_BYTES} spans at most 33 pages, 3 requests. */
    static final int MAX_PARTS = 4;

    private final OsMemory os;
    private final MachineMemory memory;
    private final Context kernelContext;
    /** The processes, the first one (the app's) at 0; removed ones are swapped out. */
    private Process[] processes = new Process[1];
    private int processCount;
    private BlockDriver driver;

    private final long[] ioUserData;
    private final int[] ioLength;
    private final int[] ioStatus;
    private final int[] ioPartsOutstanding;
    private final Process[] ioProcess;
    private final long[][] ioBus;
    private final int[] ioBusCount;
    private final int[] freeIos;
    private int freeIoCount;

    /** Bus address and length of each page-bounded piece of the I/O being started. */
    private final long[] segmentBus = new long[Aio.MAX_IO_BYTES / MachineMemory.PAGE_SIZE + 1];
    private final int[] segmentLength = new int[Aio.MAX_IO_BYTES / MachineMemory.PAGE_SIZE + 1];
    private boolean inSyscall;
    /** The process in the system call, while {@link #inSyscall}. */
    private Process caller;

    private final SyscallHandler[] syscalls = new SyscallHandler[512];
    private final String[] syscallWhat = new String[512];
    private long syscallCount;
    private long iosStarted;
    private long iosCompleted;
    private long badCompletions;
    private long roomWaits;

    /**
     * @param maxInFlight I/Os that may be under way at once (a power of two, at most {@link Aio#MAX_DEPTH})
     */
    public Kernel(OsMemory os, Context kernelContext, Context appContext, int maxInFlight) {
        if (maxInFlight < 1 || maxInFlight > Aio.MAX_DEPTH || Integer.bitCount(maxInFlight) != 1) {
            throw new IllegalArgumentException("depth: " + maxInFlight + " is not allowed; use a power of two from 1 to "
                + Aio.MAX_DEPTH);
        }
        this.os = os;
        this.memory = os.memory();
        this.kernelContext = kernelContext;
        this.ioUserData = new long[maxInFlight];
        this.ioLength = new int[maxInFlight];
        this.ioStatus = new int[maxInFlight];
        this.ioPartsOutstanding = new int[maxInFlight];
        this.ioProcess = new Process[maxInFlight];
        this.ioBus = new long[maxInFlight][segmentBus.length];
        this.ioBusCount = new int[maxInFlight];
        this.freeIos = new int[maxInFlight];
        for (int i = 0; i < maxInFlight; i++) {
            freeIos[i] = maxInFlight - 1 - i;
        }
        this.freeIoCount = maxInFlight;
        newProcess(appContext);
    }

    /**
     * A user process of this kernel: its context, its app and the app's completion queue. Its system
     * calls return to it; its completions are posted to its queue and signalled to it.
     */
    public final class Process {
        private final Context context;
        private App app;
        private QueueProducer events;
        private int eventsPending;
        /** Completions arrived in its own system call: the signal rides on the return. */
        private boolean upcallPending;
        /** Completions arrived in another process's system call: signalled at the next batch. */
        private boolean signalDeferred;
        /** It asked to be signalled when an io_submit of it found no room ({@link #signalWhenRoom}). */
        private boolean roomSignals;
        /** Its io_submit found no room: signal it when completions have made some. */
        private boolean waitingForRoom;
        private boolean removed;

        private Process(Context context) {
            this.context = context;
        }

        /** A system call of this process (see {@link Kernel#syscall}). */
        public long syscall(Cpu cpu, int number, long a0, long a1, long a2, long a3) {
            return Kernel.this.syscall(cpu, this, number, a0, a1, a2, a3);
        }

        public Context context() {
            return context;
        }

        /**
         * From now on, an io_submit of this process that finds no room gets it a signal (an upcall,
         * with or without events) once completions have made some. Without it, a process learns of
         * room only from its own completions, as before.
         */
        public void signalWhenRoom() {
            roomSignals = true;
        }

        public Kernel kernel() {
            return Kernel.this;
        }
    }

    /**
     * Starts one more user process running in {@code context} (set-up); its app attaches when it is
     * built on it ({@link App#App(Cpu, Process, OsMemory, App.CompletionListener)}).
     */
    public Process newProcess(Context context) {
        if (context.level() != PrivilegeLevel.USER) {
            throw new IllegalArgumentException("a process runs at user level: " + context);
        }
        if (processCount == processes.length) {
            processes = Arrays.copyOf(processes, processCount * 2);
        }
        Process p = new Process(context);
        processes[processCount++] = p;
        return p;
    }

    /**
     * The process exited (its app is done: nothing of it is under way); its I/O slots are the
     * others'. The first process, the app's, stays.
     */
    public void removeProcess(Process p) {
        if (p == processes[0] || p.removed) {
            throw new IllegalArgumentException("removeProcess: " + p.context + " is the kernel's first process or gone already");
        }
        for (int io = 0; io < ioProcess.length; io++) {
            if (ioProcess[io] == p && ioPartsOutstanding[io] != 0) {
                throw new IllegalStateException("removeProcess: " + p.context + " still has I/O under way");
            }
        }
        for (int i = 1; i < processCount; i++) {
            if (processes[i] == p) {
                processes[i] = processes[--processCount];
                processes[processCount] = null;
                break;
            }
        }
        p.removed = true;
    }

    /** The first process, the app's. */
    public Process process() {
        return processes[0];
    }

    /** Live processes, the first included. */
    public int processes() {
        return processCount;
    }

    public void attachDriver(BlockDriver driver) {
        this.driver = driver;
    }

    /** Set-up of a process's completion queue (Linux's io_setup), at boot. */
    void attachApp(Process p, App app, Cpu cpu, long eventsVa, int entries) {
        if (p.kernel() != this || p.app != null) {
            throw new IllegalArgumentException("attachApp: the process is another kernel's or has its app already");
        }
        p.app = app;
        p.events = new QueueProducer(memory, cpu.view(os.space()), eventsVa, Aio.EVENT_BYTES, entries);
    }

    public int maxInFlight() {
        return freeIos.length;
    }

    /** A system call a kernel offers besides io_submit (a privileged kernel's hypercall pass-through). */
    @FunctionalInterface
    public interface SyscallHandler {
        long call(Cpu cpu, long a0, long a1, long a2, long a3);
    }

    /** Installs system call {@code number} with what the trace says it does (set-up). */
    public void registerSyscall(int number, String what, SyscallHandler handler) {
        if (number < 0 || number >= syscalls.length || number == Aio.SYS_IO_SUBMIT || syscalls[number] != null) {
            throw new IllegalArgumentException("system call " + number + " is taken or out of range");
        }
        syscalls[number] = handler;
        syscallWhat[number] = what;
    }

    /** A system call of the first process, the app's (see {@link #syscall(Cpu, Process, int, long, long, long, long)}). */
    public long syscall(Cpu cpu, int number, long a0, long a1, long a2, long a3) {
        return syscall(cpu, processes[0], number, a0, a1, a2, a3);
    }

    /** True when system call {@code number} is installed. */
    public boolean hasSyscall(int number) {
        return number == Aio.SYS_IO_SUBMIT || number >= 0 && number < syscalls.length && syscalls[number] != null;
    }

    /** The system-call entry of process {@code p}: SYSCALL in, dispatch, SYSRET (or the completion signal) out to it. */
    private long syscall(Cpu cpu, Process p, int number, long a0, long a1, long a2, long a3) {
        syscallCount++;
        boolean known = number >= 0 && number < syscalls.length;
        cpu.switchTo(Crossing.SYSCALL, kernelContext, number == Aio.SYS_IO_SUBMIT
            ? "the app asks its kernel to start the I/O (io_submit)" : known && syscallWhat[number] != null
            ? syscallWhat[number] : "system call");
        inSyscall = true;
        caller = p;
        long result;
        if (number == Aio.SYS_IO_SUBMIT) {
            result = ioSubmit(cpu, p, a0, a1);
        } else if (known && syscalls[number] != null) {
            result = syscalls[number].call(cpu, a0, a1, a2, a3);
        } else {
            result = -Errno.ENOSYS;
        }
        inSyscall = false;
        caller = null;
        if (p.upcallPending) {
            p.upcallPending = false;
            cpu.switchTo(Crossing.UPCALL, p.context, "the kernel returns to the app with a completion signal");
            p.app.onUpcall(cpu);
        } else {
            cpu.switchTo(Crossing.SYSRET, p.context, "the kernel returns to the app; the I/O runs on (asynchronous)");
        }
        return result;
    }

    private long ioSubmit(Cpu cpu, Process p, long iocbVa, long count) {
        if (count < 1 || count > freeIos.length || (iocbVa & (Aio.IOCB_BYTES - 1)) != 0) {
            return -Errno.EINVAL;
        }
        int accepted = 0;
        int error = 0;
        while (accepted < count) {
            long iocb = cpu.translate(os.space(), iocbVa + (long) accepted * Aio.IOCB_BYTES, Translation.READ);
            if (iocb < 0) {
                error = (int) iocb;
                break;
            }
            int r = startIo(cpu, p, memory.getShort(iocb + Aio.IOCB_OPCODE), memory.getInt(iocb + Aio.IOCB_LENGTH),
                memory.getLong(iocb + Aio.IOCB_USER_DATA), memory.getLong(iocb + Aio.IOCB_BUFFER),
                memory.getLong(iocb + Aio.IOCB_OFFSET));
            if (r < 0) {
                error = r;
                break;
            }
            accepted++;
        }
        if (error == -Errno.EAGAIN) {
            p.waitingForRoom = p.roomSignals;
            roomWaits++;
        }
        if (accepted > 0) {
            driver.kick(cpu);
        }
        if (p.eventsPending > 0) {
            onInterruptDone(cpu);
        }
        return accepted > 0 ? accepted : error;
    }

    private int startIo(Cpu cpu, Process p, int opcode, int length, long userData, long bufferVa, long offset) {
        int op;
        switch (opcode) {
            case Aio.PREAD: op = BlockCommand.OP_READ; break;
            case Aio.PWRITE: op = BlockCommand.OP_WRITE; break;
            case Aio.FSYNC: op = BlockCommand.OP_FLUSH; break;
            default: return -Errno.EINVAL;
        }
        int segments = 0;
        if (op != BlockCommand.OP_FLUSH) {
            if (length <= 0 || length > Aio.MAX_IO_BYTES || (length & (BlockBacking.SECTOR_SIZE - 1)) != 0
                || (bufferVa & (BlockBacking.SECTOR_SIZE - 1)) != 0 || offset < 0
                || (offset & (BlockBacking.SECTOR_SIZE - 1)) != 0) {
                return -Errno.EINVAL;
            }
            // Pin the user pages (get_user_pages, then a DMA mapping): each page of the buffer is
            // translated once, to the address the device will be told.
            int access = op == BlockCommand.OP_READ ? Translation.WRITE : Translation.READ;
            long va = bufferVa;
            long end = bufferVa + length;
            while (va < end) {
                int chunk = (int) Math.min(end - va, MachineMemory.PAGE_SIZE - (va & MachineMemory.PAGE_MASK));
                long bus = os.busAddress(cpu, va, access);
                if (bus < 0) {
                    for (int s = 0; s < segments; s++) {
                        os.releaseBusAddress(segmentBus[s]);
                    }
                    return -Errno.EFAULT;
                }
                segmentBus[segments] = bus;
                segmentLength[segments] = chunk;
                segments++;
                va += chunk;
            }
        }
        int parts = Math.max(1, (segments + BlockCommand.MAX_SEGMENTS - 1) / BlockCommand.MAX_SEGMENTS);
        if (freeIoCount == 0 || driver.freeSlots() < parts) {
            for (int s = 0; s < segments; s++) {
                os.releaseBusAddress(segmentBus[s]);
            }
            return -Errno.EAGAIN;
        }
        int io = freeIos[--freeIoCount];
        System.arraycopy(segmentBus, 0, ioBus[io], 0, segments);
        ioBusCount[io] = segments;
        ioUserData[io] = userData;
        ioProcess[io] = p;
        ioLength[io] = op == BlockCommand.OP_FLUSH ? 0 : length;
        ioStatus[io] = 0;
        ioPartsOutstanding[io] = (1 << parts) - 1;
        iosStarted++;
        long sector = offset >>> BlockBacking.SECTOR_SHIFT;
        for (int part = 0, first = 0; part < parts; part++) {
            int count = Math.min(BlockCommand.MAX_SEGMENTS, segments - first);
            int r = driver.queue(cpu, op, sector, io * MAX_PARTS + part, segmentBus, segmentLength, first, count);
            if (r < 0) {
                onBlockComplete(cpu, io * MAX_PARTS + part, r);
            }
            for (int s = first; s < first + count; s++) {
                sector += segmentLength[s] >>> BlockBacking.SECTOR_SHIFT;
            }
            first += count;
        }
        return 0;
    }

    @Override
    public void onBlockComplete(Cpu cpu, int tag, int status) {
        int io = tag / MAX_PARTS;
        int bit = 1 << (tag % MAX_PARTS);
        if (tag < 0 || io >= freeIos.length || (ioPartsOutstanding[io] & bit) == 0) {
            badCompletions++;
            return;
        }
        if (status < 0 && ioStatus[io] == 0) {
            ioStatus[io] = status;
        }
        ioPartsOutstanding[io] &= ~bit;
        if (ioPartsOutstanding[io] == 0) {
            postEvent(io);
        }
    }

    private void postEvent(int io) {
        for (int s = 0; s < ioBusCount[io]; s++) {
            os.releaseBusAddress(ioBus[io][s]);
        }
        ioBusCount[io] = 0;
        Process p = ioProcess[io];
        ioProcess[io] = null;
        long slot = p.events.freeSlots() > p.eventsPending ? p.events.slot(p.eventsPending) : -Errno.ENOSPC;
        freeIos[freeIoCount++] = io;
        iosCompleted++;
        if (slot < 0) {
            badCompletions++;
            return;
        }
        memory.putLong(slot + Aio.EVENT_USER_DATA, ioUserData[io]);
        memory.putInt(slot + Aio.EVENT_RESULT, ioStatus[io] < 0 ? ioStatus[io] : ioLength[io]);
        p.eventsPending++;
    }

    /**
     * After a batch of completions: each process with new events (or waiting for the room they made)
     * is signalled, one after the other; between two, the first blocks and the kernel switches to the
     * next. Inside a system call the signal rides on its return.
     */
    @Override
    public void onInterruptDone(Cpu cpu) {
        int signalled = 0;
        for (int i = 0; i < processCount; i++) {
            Process p = processes[i];
            boolean signal = p.signalDeferred && !inSyscall;
            if (p.eventsPending > 0) {
                p.events.publish(p.eventsPending);
                p.eventsPending = 0;
                signal = true;
            }
            if (p.waitingForRoom && freeIoCount > 0 && driver.freeSlots() > 0) {
                p.waitingForRoom = false;
                signal = true;
            }
            if (!signal) {
                continue;
            }
            if (inSyscall) {
                // The caller's signal rides on its return; another's waits for the next batch.
                if (p == caller) {
                    p.upcallPending = true;
                } else {
                    p.signalDeferred = true;
                }
                continue;
            }
            p.signalDeferred = false;
            if (signalled++ > 0) {
                cpu.idleSwitch(kernelContext);
            }
            cpu.switchTo(Crossing.UPCALL, p.context, "the kernel signals the app: its I/O completed");
            p.app.onUpcall(cpu);
        }
    }

    /** Entry of a device interrupt taken by this kernel itself (native): DEVICE_IRQ, then the driver. */
    public void onDeviceInterrupt(Cpu cpu, Context device) {
        cpu.takeInterrupt(device, kernelContext, "the device interrupts the kernel: I/O done");
        driver.onInterrupt(cpu);
    }

    /** Entry of a virtual interrupt (guest): the hypervisor has made the VIRQ crossing. */
    public void onVirtualInterrupt(Cpu cpu) {
        driver.onInterrupt(cpu);
    }

    public Context kernelContext() {
        return kernelContext;
    }

    /** The first process's context, the app's. */
    public Context appContext() {
        return processes[0].context;
    }

    public OsMemory memory() {
        return os;
    }

    public BlockDriver driver() {
        return driver;
    }

    public long syscalls() {
        return syscallCount;
    }

    public long iosStarted() {
        return iosStarted;
    }

    public long iosCompleted() {
        return iosCompleted;
    }

    /** io_submit calls that found the I/O slots or the driver's queue full (the process waits for room). */
    public long roomWaits() {
        return roomWaits;
    }

    /** Completions with an unknown tag or for a request already completed. */
    public long badCompletions() {
        return badCompletions;
    }

    /** I/Os under way. */
    public int inFlight() {
        return freeIos.length - freeIoCount;
    }
}
