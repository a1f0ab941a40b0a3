package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.BlockBacking;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.evtchn.IoRequestForwarder;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * A user-space device emulator in the I/O partition (QEMU for a Xen HVM guest). It emulates the block
 * device's register interface for a fully virtualized guest whose unmodified driver traps: each
 * trapped write arrives as an I/O request ({@link IoRequestForwarder}), the partition kernel wakes
 * the emulator with an upcall, and the emulator reads the guest's own queues through its mappings of
 * the guest's memory, checks each command (copied once into its private memory), and issues
 * asynchronous I/O to the partition kernel, which drives the real device. When the I/O completes, the
 * emulator writes the guest's completion entries and asks its kernel to have the hypervisor interrupt
 * the guest ({@code dm_op}, through the kernel's privcmd system call).
 *
 * <p>The guest's RAM appears linearly in the partition's mapping window (guest-physical {@code g} at
 * window + {@code g}), as QEMU's map cache shows it, so a request over contiguous guest pages is one
 * contiguous buffer. Per {@link GrantMode}: PERSISTENT maps a guest page the first time it is used and
 * keeps it; MAP maps a request's pages before the I/O and unmaps them after (two more system-call and
 * hypercall round trips); COPY has the hypervisor copy between the guest's pages and the emulator's
 * bounce pages. Mappings of another domain's frames are foreign mappings, allowed to a privileged
 * partition only.
 *
 * <p>When the toolstack destroys the guest ({@link #guestDestroyed}) the emulator stops serving it:
 * its I/Os already with the partition kernel finish (their DMA may still land in the guest's frames,
 * which the hypervisor keeps in quarantine while they are mapped here), nothing is written back to the
 * guest, and once none is left every foreign mapping of the guest (its queues, the persistent pages,
 * what a MAP request still holds) is unmapped and the request port closed; each last unmap ends a
 * frame's quarantine.
 */
public final class Emulator {
    /** The partition kernel's hypercall pass-through (Linux's privcmd, an ioctl there). */
    public static final int SYS_PRIVCMD = 16;
    private static final int OPS_MAP = 0;
    private static final int OPS_UNMAP = 1024;
    private static final int OPS_COPY = 2048;

    private final Hypervisor hv;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final Domain guest;
    private final Kernel kernel;
    private final Kernel.Process process;
    private final App app;
    private final Context context;
    private final GrantMode mode;
    private final long extentFirst;
    private final long extentSectors;
    private final long ioRequestGpa;
    private final IoRequestForwarder requests;
    private final long windowBase;
    private final long privateGpa;
    private final long opsGpa;
    private final int[] mapCount;
    private final int[] mapHandle;
    private final Translator guestView;
    private final int maxIocbs;

    // The emulated device's registers and the guest's queues behind them.
    private long sqBase;
    private long cqBase;
    private int entries;
    private QueueConsumer guestSq;
    private QueueProducer guestCq;
    private boolean failed;
    private boolean moreWork;
    private int cqPending;

    // Commands under way, by slot.
    private final int slots;
    private final int[] slotTag;
    private final int[] slotOp;
    private final int[] slotParts;
    private final int[] slotStatus;
    private final int[] slotBytes;
    private final int[] slotSegments;
    private final long[][] slotGpa;
    private final int[][] slotLength;
    private final long[] slotBounce;
    private final int[] freeSlots;
    private int freeSlotCount;
    private int iocbsInFlight;
    private final long[] gfns = new long[BlockCommand.MAX_SEGMENTS * 2];
    private final long[] stagedUserData = new long[Aio.MAX_DEPTH];
    /** Control blocks the kernel had no room for ({@code [retryFirst, retryFirst + retryCount)}), sent again first. */
    private int retryFirst;
    private int retryCount;

    /** The guest was destroyed: nothing more is served or written back; closes when no I/O is left. */
    private boolean closing;
    /** Volatile: the toolstack's thread waits for it while the partition's thread closes. */
    private volatile boolean closed;
    private long unmapFailures;

    private long commands;
    private long rejected;
    private long privcmds;
    private long injected;

    /**
     * Builds the emulator as the application of the partition kernel's {@code process} (one process
     * per guest, as QEMU runs one per HVM guest), binds the request port in the partition's
     * {@code events}, and installs the kernel's privcmd system call if no emulator did. The guest's
     * virtual disk is sectors {@code [extentFirst, extentFirst + extentSectors)}.
     */
    public Emulator(Cpu cpu, Hypervisor hv, DomainMemory os, Kernel.Process process, EventPorts events, Domain guest,
                    IoRequestForwarder requests, GrantMode mode, long extentFirst, long extentSectors, int queueEntries) {
        this.hv = hv;
        this.os = os;
        this.memory = os.memory();
        this.guest = guest;
        this.process = process;
        this.kernel = process.kernel();
        this.context = process.context();
        if (context.level() != PrivilegeLevel.USER) {
            throw new IllegalArgumentException("the emulator runs at user level");
        }
        this.mode = mode;
        this.extentFirst = extentFirst;
        this.extentSectors = extentSectors;
        this.ioRequestGpa = requests.pageGpa();
        this.requests = requests;
        this.windowBase = os.allocateWindow(guest.pages());
        this.privateGpa = os.allocate(1);
        this.opsGpa = os.allocate(1);
        this.mapCount = new int[guest.pages()];
        this.mapHandle = new int[guest.pages()];
        this.maxIocbs = Math.min(queueEntries, kernel.maxInFlight());
        Domain partition = os.domain();
        this.guestView = (gpa, access) -> gpa < 0 || gpa >= guest.memoryBytes() ? -Errno.EFAULT
            : cpu.translate(partition.space(), windowBase + gpa, access);
        this.slots = queueEntries;
        slotTag = new int[slots];
        slotOp = new int[slots];
        slotParts = new int[slots];
        slotStatus = new int[slots];
        slotBytes = new int[slots];
        slotSegments = new int[slots];
        slotGpa = new long[slots][BlockCommand.MAX_SEGMENTS];
        slotLength = new int[slots][BlockCommand.MAX_SEGMENTS];
        slotBounce = new long[slots];
        freeSlots = new int[slots];
        for (int i = slots - 1; i >= 0; i--) {
            freeSlots[freeSlotCount++] = i;
            if (mode == GrantMode.COPY) {
                slotBounce[i] = os.allocate(BlockCommand.MAX_SEGMENTS);
            }
        }
        if (!kernel.hasSyscall(SYS_PRIVCMD)) {
            kernel.registerSyscall(SYS_PRIVCMD, "the emulator asks its kernel to make a hypercall (privcmd)",
                (c, op, a0, a1, a2) -> hv.hypercall(c, (int) op, a0, a1, a2, 0));
        }
        // Other guests' emulators share the kernel's slots and the device queue: when they are full,
        // the kernel signals this one once there is room (it may have nothing of its own under way).
        process.signalWhenRoom();
        this.app = new App(cpu, process, os, new App.CompletionListener() {
            @Override
            public void onCompletion(Cpu c, long userData, int result) {
                completed(c, userData, result);
            }

            @Override
            public void onBatchDone(Cpu c) {
                batchDone(c);
            }
        });
        events.bind(requests.port(), (c, port) -> {
            c.switchTo(Crossing.UPCALL, context, "the partition kernel wakes the emulator: a trapped I/O request");
            onIoRequest(c);
            // The emulator waits for its next request: the partition kernel goes on.
            c.idleSwitch(partition.kernel());
        });
    }

    /** Serves the pending I/O request: one emulated register write. */
    private void onIoRequest(Cpu cpu) {
        if (closing) {
            return;
        }
        long req = cpu.translate(os.space(), ioRequestGpa, Translation.READ | Translation.WRITE);
        if (req < 0 || memory.getIntAcquire(req + IoRequestForwarder.STATE) != IoRequestForwarder.READY) {
            return;
        }
        int register = memory.getInt(req + IoRequestForwarder.REGISTER);
        long value = memory.getLong(req + IoRequestForwarder.VALUE);
        long result;
        switch (register) {
            case BlockDevice.REG_SQ_BASE:
                sqBase = value;
                result = 0;
                break;
            case BlockDevice.REG_CQ_BASE:
                cqBase = value;
                result = 0;
                break;
            case BlockDevice.REG_ENTRIES:
                if (value < 1 || value > slots || Long.bitCount(value) != 1) {
                    result = -Errno.EINVAL;
                } else {
                    entries = (int) value;
                    result = 0;
                }
                break;
            case BlockDevice.REG_CONTROL:
                result = value == 1 ? enable(cpu) : reset();
                break;
            case BlockDevice.REG_DOORBELL:
                result = serve(cpu);
                break;
            default:
                result = -Errno.EINVAL;
        }
        memory.putLong(req + IoRequestForwarder.RESULT, result);
        memory.putIntRelease(req + IoRequestForwarder.STATE, IoRequestForwarder.DONE);
        requests.answered();
    }

    private long enable(Cpu cpu) {
        if (entries == 0 || (sqBase & MachineMemory.PAGE_MASK) != 0 || (cqBase & MachineMemory.PAGE_MASK) != 0) {
            return -Errno.EINVAL;
        }
        // The queues stay mapped while the device is enabled, in every grant mode.
        int n = 0;
        for (int p = 0; p < MemoryQueue.pages(BlockCommand.BYTES, entries); p++) {
            gfns[n++] = (sqBase >>> MachineMemory.PAGE_SHIFT) + p;
        }
        int cqPages = MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries);
        for (int p = 0; p < cqPages; p++) {
            gfns[n++] = (cqBase >>> MachineMemory.PAGE_SHIFT) + p;
        }
        long r = map(cpu, n);
        if (r < 0) {
            return r;
        }
        for (int i = 0; i < n; i++) {
            mapCount[(int) gfns[i]] = Math.max(1, mapCount[(int) gfns[i]]);
        }
        guestSq = new QueueConsumer(memory, guestView, sqBase, BlockCommand.BYTES, entries);
        guestCq = new QueueProducer(memory, guestView, cqBase, BlockCommand.COMPLETION_BYTES, entries);
        failed = false;
        return 0;
    }

    private long reset() {
        guestSq = null;
        guestCq = null;
        failed = false;
        moreWork = false;
        return 0;
    }

    /** After a trapped doorbell: take the guest's new commands, check each, start them with one io_submit. */
    private long serve(Cpu cpu) {
        if (guestSq == null || failed) {
            return -Errno.EINVAL;
        }
        if (retryCount > 0 && !resubmit(cpu)) {
            // The kernel still has no room: new commands wait behind the ones it refused.
            moreWork = true;
            return 0;
        }
        long available = guestSq.available();
        if (available < 0 || available > entries) {
            // The guest broke its own queue: the emulated device stops, as a real one would.
            failed = true;
            rejected++;
            return -Errno.EINVAL;
        }
        long privateMa = cpu.translate(os.space(), privateGpa, Translation.READ | Translation.WRITE);
        int staged = 0;
        int taken = 0;
        moreWork = false;
        while (taken < available) {
            // Room for a command's worst case of control blocks; with none under way any command goes
            // (the kernel takes what fits and signals when there is room for the rest).
            int underWay = iocbsInFlight + staged;
            if (freeSlotCount == 0 || underWay > 0 && underWay + BlockCommand.MAX_SEGMENTS > maxIocbs
                || guestCq.freeSlots() - (slots - freeSlotCount) - cqPending <= 0) {
                moreWork = true;
                break;
            }
            long slotMa = guestSq.slot(taken);
            if (slotMa < 0) {
                failed = true;
                break;
            }
            memory.copy(slotMa, privateMa, BlockCommand.BYTES);
            taken++;
            commands++;
            int tag = memory.getInt(privateMa + BlockCommand.TAG);
            int segments = BlockCommand.check(memory, privateMa, extentSectors);
            if (segments < 0) {
                rejected++;
                post(tag, segments, 0);
                continue;
            }
            int slot = freeSlots[--freeSlotCount];
            int op = memory.getByte(privateMa + BlockCommand.OPCODE) & 0xFF;
            slotTag[slot] = tag;
            slotOp[slot] = op;
            slotStatus[slot] = 0;
            slotBytes[slot] = 0;
            slotSegments[slot] = segments;
            for (int s = 0; s < segments; s++) {
                long seg = privateMa + BlockCommand.segmentOffset(s);
                slotGpa[slot][s] = memory.getLong(seg + BlockCommand.SEGMENT_ADDRESS);
                slotLength[slot][s] = memory.getInt(seg + BlockCommand.SEGMENT_LENGTH);
                slotBytes[slot] += slotLength[slot][s];
            }
            long sector = extentFirst + memory.getLong(privateMa + BlockCommand.SECTOR);
            long r = reachPages(cpu, slot);
            if (r < 0) {
                rejected++;
                freeSlots[freeSlotCount++] = slot;
                post(tag, (int) r, 0);
                continue;
            }
            staged = stage(cpu, slot, sector << BlockBacking.SECTOR_SHIFT, staged);
        }
        guestSq.consume(taken);
        if (staged > 0) {
            retryFirst = 0;
            retryCount = staged;
            if (!resubmit(cpu)) {
                moreWork = true;
            }
        }
        publishCompletions(cpu);
        return failed ? -Errno.EINVAL : 0;
    }

    /**
     * Submits the staged control blocks not yet taken; true when none is left. The partition
     * kernel's slots and device queue are shared with the other guests' emulators, so it may take
     * fewer (-EAGAIN): the rest wait, in order, until it signals that completions made room. Any
     * other refusal fails the commands.
     */
    private boolean resubmit(Cpu cpu) {
        long accepted = app.submit(cpu, retryFirst, retryCount);
        if (accepted > 0) {
            iocbsInFlight += (int) accepted;
            retryFirst += (int) accepted;
            retryCount -= (int) accepted;
        } else if (accepted < 0 && accepted != -Errno.EAGAIN) {
            failStaged(cpu, (int) accepted);
        }
        return retryCount == 0;
    }

    /** Ends the staged control blocks the kernel never took with {@code status}. */
    private void failStaged(Cpu cpu, int status) {
        int first = retryFirst;
        int count = retryCount;
        retryCount = 0;
        // completed() counts one I/O under way less for each: these never were (all counted first, so
        // that a closing emulator closes after the last of them, not in between).
        iocbsInFlight += count;
        for (int i = first; i < first + count; i++) {
            completed(cpu, stagedUserData[i], status);
        }
    }

    /** Prepares the command's I/O control blocks: one per run of guest-contiguous segments. */
    private int stage(Cpu cpu, int slot, long diskOffset, int staged) {
        int op = slotOp[slot];
        if (op == BlockCommand.OP_FLUSH) {
            slotParts[slot] = 1;
            stagedUserData[staged] = (long) slot << 8;
            app.prepare(cpu, staged, Aio.FSYNC, 0, 0, 0, stagedUserData[staged]);
            return staged + 1;
        }
        int opcode = op == BlockCommand.OP_READ ? Aio.PREAD : Aio.PWRITE;
        int parts = 0;
        int s = 0;
        int segments = slotSegments[slot];
        while (s < segments) {
            long start = slotGpa[slot][s];
            int length = slotLength[slot][s];
            int next = s + 1;
            while (next < segments && slotGpa[slot][next] == start + length) {
                length += slotLength[slot][next];
                next++;
            }
            long buffer = mode == GrantMode.COPY ? bounceAddress(slot, s) : windowBase + start;
            long userData = (long) slot << 8 | parts;
            stagedUserData[staged] = userData;
            app.prepare(cpu, staged++, opcode, diskOffset, buffer, length, userData);
            diskOffset += length;
            parts++;
            s = next;
        }
        slotParts[slot] = parts;
        return staged;
    }

    /** Makes a command's guest pages reachable for the emulator's I/O, per grant mode. */
    private long reachPages(Cpu cpu, int slot) {
        int segments = slotSegments[slot];
        if (mode == GrantMode.COPY) {
            return slotOp[slot] == BlockCommand.OP_WRITE ? copy(cpu, slot, true) : 0;
        }
        int n = 0;
        for (int s = 0; s < segments; s++) {
            long gfn = slotGpa[slot][s] >>> MachineMemory.PAGE_SHIFT;
            if (gfn >= guest.pages()) {
                return -Errno.EFAULT;
            }
            if (mapCount[(int) gfn] == 0 && !contains(gfns, n, gfn)) {
                gfns[n++] = gfn;
            }
        }
        long r = map(cpu, n);
        if (r < 0) {
            return r;
        }
        for (int s = 0; s < segments; s++) {
            int gfn = (int) (slotGpa[slot][s] >>> MachineMemory.PAGE_SHIFT);
            // MAP counts the requests using a page; a persistent mapping only needs to be there.
            mapCount[gfn] = mode == GrantMode.MAP ? mapCount[gfn] + 1 : 1;
        }
        return 0;
    }

    private static boolean contains(long[] values, int n, long value) {
        for (int i = 0; i < n; i++) {
            if (values[i] == value) {
                return true;
            }
        }
        return false;
    }

    /** Maps guest frames {@code gfns[0..n)} at their place in the window: one privcmd map. */
    private long map(Cpu cpu, int n) {
        if (n == 0) {
            return 0;
        }
        for (int i = 0; i < n; i++) {
            long op = ops(cpu, OPS_MAP + i * GrantOps.MAP_BYTES);
            memory.putLong(op + GrantOps.MAP_HOST, windowBase + (gfns[i] << MachineMemory.PAGE_SHIFT));
            memory.putInt(op + GrantOps.MAP_FLAGS, GrantOps.MAP_FOREIGN);
            memory.putInt(op + GrantOps.MAP_REF, (int) gfns[i]);
            memory.putShort(op + GrantOps.MAP_DOM, (short) guest.id());
        }
        long r = privcmd(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, opsGpa + OPS_MAP, n);
        long failure = r < 0 ? r : 0;
        for (int i = 0; i < n; i++) {
            long op = ops(cpu, OPS_MAP + i * GrantOps.MAP_BYTES);
            int status = r < 0 ? (int) r : memory.getShort(op + GrantOps.MAP_STATUS);
            if (status < 0) {
                failure = failure < 0 ? failure : status;
                mapHandle[(int) gfns[i]] = -1;
            } else {
                mapHandle[(int) gfns[i]] = memory.getInt(op + GrantOps.MAP_HANDLE);
            }
        }
        if (failure < 0) {
            // Undo the mappings that did succeed: nothing is left half done.
            int m = 0;
            for (int i = 0; i < n; i++) {
                if (mapHandle[(int) gfns[i]] >= 0 && mapCount[(int) gfns[i]] == 0) {
                    gfns[m++] = gfns[i];
                }
            }
            unmap(cpu, m);
        }
        return failure;
    }

    /** Unmaps guest frames {@code gfns[0..n)}: one privcmd unmap (each a TLB shoot-down). */
    private void unmap(Cpu cpu, int n) {
        if (n == 0) {
            return;
        }
        for (int i = 0; i < n; i++) {
            long op = ops(cpu, OPS_UNMAP + i * GrantOps.UNMAP_BYTES);
            memory.putLong(op + GrantOps.UNMAP_HOST, windowBase + (gfns[i] << MachineMemory.PAGE_SHIFT));
            memory.putInt(op + GrantOps.UNMAP_HANDLE, mapHandle[(int) gfns[i]]);
            mapHandle[(int) gfns[i]] = -1;
        }
        privcmd(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_UNMAP, opsGpa + OPS_UNMAP, n);
    }

    /**
     * COPY mode: segment {@code s} sits in bounce page {@code s} at the guest's in-page offset, so the
     * bounce pages mirror the guest's and a run of guest-contiguous segments is contiguous here too.
     */
    private long bounceAddress(int slot, int s) {
        return slotBounce[slot] + ((long) s << MachineMemory.PAGE_SHIFT) + (slotGpa[slot][s] & MachineMemory.PAGE_MASK);
    }

    /** COPY mode: guest pages into the bounce pages (before a write) or back (after a read). */
    private long copy(Cpu cpu, int slot, boolean in) {
        int segments = slotSegments[slot];
        for (int s = 0; s < segments; s++) {
            long gpa = slotGpa[slot][s];
            long bounce = bounceAddress(slot, s);
            long op = ops(cpu, OPS_COPY + s * GrantOps.COPY_BYTES);
            long guestGfn = gpa >>> MachineMemory.PAGE_SHIFT;
            long bounceGfn = bounce >>> MachineMemory.PAGE_SHIFT;
            memory.putInt(op + GrantOps.COPY_SRC_REF, (int) (in ? guestGfn : bounceGfn));
            memory.putShort(op + GrantOps.COPY_SRC_DOM, (short) (in ? guest.id() : os.domain().id()));
            memory.putShort(op + GrantOps.COPY_SRC_OFFSET, (short) (in ? gpa & MachineMemory.PAGE_MASK : bounce & MachineMemory.PAGE_MASK));
            memory.putInt(op + GrantOps.COPY_DST_REF, (int) (in ? bounceGfn : guestGfn));
            memory.putShort(op + GrantOps.COPY_DST_DOM, (short) (in ? os.domain().id() : guest.id()));
            memory.putShort(op + GrantOps.COPY_DST_OFFSET, (short) (in ? bounce & MachineMemory.PAGE_MASK : gpa & MachineMemory.PAGE_MASK));
            memory.putShort(op + GrantOps.COPY_LENGTH, (short) slotLength[slot][s]);
            memory.putShort(op + GrantOps.COPY_FLAGS, (short) 0);
        }
        long r = privcmd(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, opsGpa + OPS_COPY, segments);
        if (r < 0) {
            return r;
        }
        for (int s = 0; s < segments; s++) {
            int status = memory.getShort(ops(cpu, OPS_COPY + s * GrantOps.COPY_BYTES) + GrantOps.COPY_STATUS);
            if (status < 0) {
                return status;
            }
        }
        return 0;
    }

    private long privcmd(Cpu cpu, int op, long a0, long a1, long a2) {
        privcmds++;
        return process.syscall(cpu, SYS_PRIVCMD, op, a0, a1, a2);
    }

    private long ops(Cpu cpu, int offset) {
        return cpu.translate(os.space(), opsGpa + offset, Translation.READ | Translation.WRITE);
    }

    /**
     * The toolstack destroyed the guest (after {@link Hypervisor#destroyDomain}); runs in the partition
     * on {@code cpu} while no other party runs it. Returns the emulator's I/Os still under way, which
     * finish before it unmaps the guest's pages and closes ({@link #closed}).
     */
    public int guestDestroyed(Cpu cpu) {
        if (!closing) {
            closing = true;
            guestSq = null;
            guestCq = null;
            moreWork = false;
            cqPending = 0;
            if (retryCount > 0) {
                failStaged(cpu, -Errno.ESHUTDOWN);
            }
            if (iocbsInFlight == 0 && !closed) {
                close(cpu);
            }
        }
        return iocbsInFlight;
    }

    /** No I/O of the dead guest is left: every mapping of its frames goes, then the request port. */
    private void close(Cpu cpu) {
        if (closed) {
            throw new IllegalStateException("the emulator of " + guest + " is closed already");
        }
        int n = 0;
        for (int gfn = 0; gfn < mapCount.length; gfn++) {
            if (mapCount[gfn] > 0 && mapHandle[gfn] >= 0) {
                if (n == gfns.length) {
                    unmapChecked(cpu, n);
                    n = 0;
                }
                gfns[n++] = gfn;
            }
            mapCount[gfn] = 0;
        }
        unmapChecked(cpu, n);
        privcmd(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_CLOSE, requests.port(), 0);
        // Nothing is mapped there any more: another guest's emulator may have the window pages.
        os.releaseWindow(windowBase, guest.pages());
        closed = true;
    }

    /** {@link #unmap}, counting the unmaps the hypervisor refuses. */
    private void unmapChecked(Cpu cpu, int n) {
        unmap(cpu, n);
        for (int i = 0; i < n; i++) {
            if (memory.getShort(ops(cpu, OPS_UNMAP + i * GrantOps.UNMAP_BYTES) + GrantOps.UNMAP_STATUS) < 0) {
                unmapFailures++;
            }
        }
    }

    /** True once the emulator has let go of a destroyed guest. */
    public boolean closed() {
        return closed;
    }

    /** Unmaps refused while closing (a bookkeeping bug if not 0). */
    public long unmapFailures() {
        return unmapFailures;
    }

    /** The emulator's I/Os under way with the partition kernel. */
    public int iocbsInFlight() {
        return iocbsInFlight;
    }

    /**
     * The machine frames the emulator's I/Os under way reach (the guest's pages in the partition's
     * window; none in COPY mode, whose I/O goes to bounce pages), for tests. Commands held back
     * whole for room in the kernel are not under way.
     */
    public long[] inFlightFrames() {
        long[] out = new long[slots * BlockCommand.MAX_SEGMENTS * 2];
        int[] heldBack = new int[slots];
        for (int i = retryFirst; i < retryFirst + retryCount; i++) {
            heldBack[(int) (stagedUserData[i] >>> 8)]++;
        }
        int n = 0;
        for (int slot = 0; slot < slots && mode != GrantMode.COPY; slot++) {
            // A command none of whose control blocks the kernel has taken yet is not under way.
            if (slotParts[slot] <= heldBack[slot]) {
                continue;
            }
            for (int s = 0; s < slotSegments[slot]; s++) {
                long first = slotGpa[slot][s] & ~MachineMemory.PAGE_MASK;
                long last = (slotGpa[slot][s] + slotLength[slot][s] - 1) & ~MachineMemory.PAGE_MASK;
                for (long page = first; page <= last; page += MachineMemory.PAGE_SIZE) {
                    long t = os.domain().space().table().translate(windowBase + page);
                    if (t >= 0) {
                        out[n++] = Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT;
                    }
                }
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** One of the emulator's I/Os completed (its AIO event). */
    private void completed(Cpu cpu, long userData, int result) {
        int slot = (int) (userData >>> 8);
        if (slot < 0 || slot >= slots || slotParts[slot] <= 0) {
            return;
        }
        iocbsInFlight--;
        if (closing) {
            // The guest is gone: the device is done with this part's pages; nothing is written back.
            if (--slotParts[slot] == 0) {
                if (mode == GrantMode.MAP) {
                    int n = 0;
                    for (int s = 0; s < slotSegments[slot]; s++) {
                        int gfn = (int) (slotGpa[slot][s] >>> MachineMemory.PAGE_SHIFT);
                        if (mapCount[gfn] > 0 && --mapCount[gfn] == 0 && !contains(gfns, n, gfn)) {
                            gfns[n++] = gfn;
                        }
                    }
                    unmapChecked(cpu, n);
                }
                freeSlots[freeSlotCount++] = slot;
            }
            if (iocbsInFlight == 0) {
                close(cpu);
            }
            return;
        }
        if (result < 0 && slotStatus[slot] == 0) {
            slotStatus[slot] = result;
        }
        if (--slotParts[slot] > 0) {
            return;
        }
        int status = slotStatus[slot];
        if (mode == GrantMode.COPY && slotOp[slot] == BlockCommand.OP_READ && status == 0) {
            long r = copy(cpu, slot, false);
            status = r < 0 ? (int) r : status;
        } else if (mode == GrantMode.MAP) {
            int n = 0;
            for (int s = 0; s < slotSegments[slot]; s++) {
                int gfn = (int) (slotGpa[slot][s] >>> MachineMemory.PAGE_SHIFT);
                if (--mapCount[gfn] == 0) {
                    gfns[n++] = gfn;
                }
            }
            unmap(cpu, n);
        }
        post(slotTag[slot], status, status < 0 ? 0 : slotBytes[slot]);
        freeSlots[freeSlotCount++] = slot;
    }

    private void post(int tag, int status, int bytes) {
        long entry = guestCq == null ? -1 : guestCq.slot(cqPending);
        if (entry < 0) {
            failed = true;
            return;
        }
        memory.putInt(entry + BlockCommand.COMPLETION_TAG, tag);
        memory.putInt(entry + BlockCommand.COMPLETION_STATUS, status);
        memory.putInt(entry + BlockCommand.COMPLETION_LENGTH, bytes);
        cqPending++;
    }

    /**
     * After a batch of completions: first start the commands that waited for room (still work for
     * this batch of I/O), then publish the completions and interrupt the guest once.
     */
    private void batchDone(Cpu cpu) {
        if (closing) {
            return;
        }
        if ((moreWork || retryCount > 0) && !failed) {
            serve(cpu);
        }
        publishCompletions(cpu);
    }

    private void publishCompletions(Cpu cpu) {
        if (cqPending > 0) {
            guestCq.publish(cqPending);
            cqPending = 0;
            injected++;
            privcmd(cpu, Hypercall.DM_OP, Hypercall.DM_INJECT_IRQ, guest.id(), 0);
        }
    }

    public long commands() {
        return commands;
    }

    /** Commands refused with an errno before any I/O. */
    public long rejected() {
        return rejected;
    }

    /** Hypercalls made through the partition kernel. */
    public long privcmds() {
        return privcmds;
    }

    /** Interrupts injected into the guest (one per batch of completions). */
    public long interruptsInjected() {
        return injected;
    }

    public boolean failed() {
        return failed;
    }

    public App app() {
        return app;
    }

    /** The partition kernel's process this emulator is. */
    public Kernel.Process process() {
        return process;
    }

    /** Control blocks waiting for room in the partition kernel. */
    public int waitingForRoom() {
        return retryCount;
    }
}
