package org.hvbench.core.dev;

import org.hvbench.core.iommu.DmaTranslation;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.agrona.BufferUtil;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.cpu.VirtualClock;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * A block device with a submission queue and a completion queue in memory, a doorbell, and an
 * interrupt line: the shape of NVMe or virtio-blk, reduced to what the placements need. Its driver
 * (a native kernel, the hypervisor, a partition, or a guest through an IOMMU) programs it through
 * {@link #mmioWrite}; every access the device makes to memory, queue entries included, goes through
 * its {@link DmaTranslation}.
 *
 * <pre>
 * Registers (mmioWrite):
 * | register      | value                                                              |
 * |---------------|--------------------------------------------------------------------|
 * | REG_SQ_BASE   | DMA address of the submission queue ({@link MemoryQueue} layout, 256-byte slots) |
 * | REG_CQ_BASE   | DMA address of the completion queue (16-byte slots)                |
 * | REG_ENTRIES   | slots per queue, a power of two from 1 to 4096                     |
 * | REG_CONTROL   | 1 enables (the device takes up the queues), 0 resets               |
 * | REG_DOORBELL  | any value: new submissions are published                           |
 * </pre>
 *
 * A command is fetched into the device's private buffer once, checked, and all its pages translated
 * before any byte moves, so a bad command changes neither the disk nor memory. Statuses are negative
 * errnos: {@code -EOPNOTSUPP} unknown opcode, {@code -EINVAL} bad segment count or length,
 * {@code -ENOSPC} sectors beyond the disk, {@code -EFAULT} a DMA address the translation refuses,
 * {@code -EIO} the backing failed. A queue whose producer is more than its size ahead puts the
 * device in an error state (no more commands until reset); nothing is thrown.
 *
 * <p>{@link #doWork} is the device's own activity (an Agrona {@link Agent}): the inline executor
 * calls it on the one thread, the threaded executor gives it a thread. The doorbell is the only
 * cross-thread signal in: a volatile flag, plus a wake-up hook for a sleeping device thread.
 */
public final class BlockDevice implements Agent {
    public static final int REG_SQ_BASE = 0;
    public static final int REG_CQ_BASE = 1;
    public static final int REG_ENTRIES = 2;
    public static final int REG_CONTROL = 3;
    public static final int REG_DOORBELL = 4;
    /** I/O address where the channel status of the next chain goes. */
    public static final int REG_CHAIN_STATUS = 5;
    /** I/O address of a channel program's first command: the device runs the chain. */
    public static final int REG_CHAIN = 6;
    public static final int MAX_ENTRIES = 4096;

    private static final VarHandle DOORBELL;
    private static final VarHandle CHAIN;

    static {
        try {
            DOORBELL = MethodHandles.lookup().findVarHandle(BlockDevice.class, "doorbell", int.class);
            CHAIN = MethodHandles.lookup().findVarHandle(BlockDevice.class, "chainPending", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String name;
    private final int deviceId;
    private final MachineMemory memory;
    private final BlockBacking backing;
    private final DmaTranslation dma;
    private final Translator dmaView;
    private final CostProfile profile;
    private final VirtualClock clock = new VirtualClock();
    private final UnsafeBuffer command = new UnsafeBuffer(BufferUtil.allocateDirectAligned(BlockCommand.BYTES, 64));
    private final long[] pageMa = new long[BlockCommand.MAX_SEGMENTS * 2];
    private final int[] pageLength = new int[BlockCommand.MAX_SEGMENTS * 2];

    private long sqBase;
    private long cqBase;
    private int entries;
    private QueueConsumer submissions;
    private QueueProducer completions;
    private IrqLine irq;
    private boolean failed;
    private boolean moreWork;
    @SuppressWarnings("unused") // accessed through DOORBELL
    private volatile int doorbell;
    private volatile Runnable wakeup;

    private long chainAddress;
    private long chainStatus;
    @SuppressWarnings("unused") // accessed through CHAIN
    private volatile int chainPending;
    private final UnsafeBuffer channelCommand = new UnsafeBuffer(BufferUtil.allocateDirectAligned(ChannelCommand.BYTES, 16));
    private final long[] chainFetched = new long[ChannelCommand.MAX_CHAIN];
    private int chainDone;
    private int chainIndex;
    private long chains;

    private long commands;
    private long errors;
    private long bytesMoved;
    private long interrupts;
    private long doorbells;

    public BlockDevice(String name, int deviceId, MachineMemory memory, BlockBacking backing, DmaTranslation dma,
                       CostProfile profile) {
        this.name = name;
        this.deviceId = deviceId;
        this.memory = memory;
        this.backing = backing;
        this.dma = dma;
        this.profile = profile;
        this.dmaView = (address, access) -> this.dma.translate(this.deviceId, address, access);
    }

    /** Wires the interrupt line (the board's wiring, before the driver enables the device). */
    public void connectInterrupt(IrqLine line) {
        this.irq = line;
    }

    /** The hook that wakes a sleeping device thread when the doorbell rings; {@code null} for none. */
    public void setWakeup(Runnable wakeup) {
        this.wakeup = wakeup;
    }

    /**
     * A register write by the driver.
     *
     * @return 0, or {@code -EINVAL} for an unknown register or a value the register does not take
     *     (the write is then ignored, as a device ignores a bad programming)
     */
    public int mmioWrite(int register, long value) {
        switch (register) {
            case REG_SQ_BASE:
                sqBase = value;
                return 0;
            case REG_CQ_BASE:
                cqBase = value;
                return 0;
            case REG_ENTRIES:
                if (value < 1 || value > MAX_ENTRIES || Long.bitCount(value) != 1) {
                    return -Errno.EINVAL;
                }
                entries = (int) value;
                return 0;
            case REG_CONTROL:
                return value == 1 ? enable() : reset();
            case REG_DOORBELL:
                doorbells++;
                DOORBELL.setRelease(this, 1);
                wake();
                return 0;
            case REG_CHAIN_STATUS:
                chainStatus = value;
                return 0;
            case REG_CHAIN:
                if ((int) CHAIN.getAcquire(this) != 0) {
                    return -Errno.EBUSY;
                }
                chainAddress = value;
                CHAIN.setRelease(this, 1);
                wake();
                return 0;
            default:
                return -Errno.EINVAL;
        }
    }

    private void wake() {
        Runnable w = wakeup;
        if (w != null) {
            w.run();
        }
    }

    /** True while a channel program started by {@link #REG_CHAIN} has not ended. */
    public boolean chainBusy() {
        return (int) CHAIN.getAcquire(this) != 0;
    }

    private int enable() {
        if (entries == 0 || (sqBase & MachineMemory.PAGE_MASK) != 0 || (cqBase & MachineMemory.PAGE_MASK) != 0) {
            return -Errno.EINVAL;
        }
        try {
            submissions = new QueueConsumer(memory, dmaView, sqBase, BlockCommand.BYTES, entries);
            completions = new QueueProducer(memory, dmaView, cqBase, BlockCommand.COMPLETION_BYTES, entries);
        } catch (IllegalArgumentException unmapped) {
            submissions = null;
            completions = null;
            return -Errno.EFAULT;
        }
        failed = false;
        return 0;
    }

    private int reset() {
        submissions = null;
        completions = null;
        failed = false;
        moreWork = false;
        return 0;
    }

    public boolean enabled() {
        return submissions != null;
    }

    /** True after a broken queue stopped the device; a reset clears it. */
    public boolean failed() {
        return failed;
    }

    @Override
    public String roleName() {
        return name;
    }

    /**
     * Serves the submission queue after a doorbell: up to the free completion slots, each command
     * completed before the next is fetched, then one interrupt for the whole batch.
     *
     * @return commands completed
     */
    @Override
    public int doWork() {
        int work = dma.hasRequests() ? dma.serviceRequests() : 0;
        work += (int) CHAIN.getAcquire(this) != 0 ? runChain() : 0;
        return work + serveQueue();
    }

    /**
     * True when {@link #doWork} has something to do: a doorbell, a channel program, or requests for
     * the IOMMU (acquire loads; {@code moreWork} is the device thread's own). The threaded executor's
     * sleeper checks it, on the device's thread, before the device sleeps.
     */
    public boolean hasWork() {
        return (int) DOORBELL.getAcquire(this) != 0 || moreWork || (int) CHAIN.getAcquire(this) != 0
            || dma.hasRequests();
    }

    /**
     * Runs a channel program from guest memory in two passes over the chain, every fetch through the
     * IOMMU. The first checks each command and that its data page may be reached, and refuses the
     * whole chain before any byte moves if one is bad (as a prefetching channel does). The second
     * fetches each command again when it reaches it and runs it: a chain that reads into its own
     * later commands (a self-modifying channel program) runs what it read, checked again and still
     * confined to what the IOMMU lets this device reach. Then the status, then one interrupt.
     */
    private int runChain() {
        int status = walkChain(false);
        if (status >= 0) {
            status = walkChain(true);
        }
        long statusMa = (chainStatus & (ChannelCommand.STATUS_BYTES - 1)) != 0 ? -Errno.EINVAL
            : dma.translate(deviceId, chainStatus, Translation.WRITE);
        if (statusMa >= 0) {
            memory.putInt(statusMa + ChannelCommand.STATUS_DONE, chainDone);
            memory.putInt(statusMa + ChannelCommand.STATUS_RESULT, Math.min(status, 0));
            memory.putInt(statusMa + ChannelCommand.STATUS_FAILED_AT, status < 0 ? chainIndex : 0);
            memory.putInt(statusMa + ChannelCommand.STATUS_FAILED_AT + 4, 0);
        }
        chains++;
        commands += chainDone;
        CHAIN.setRelease(this, 0);
        interrupts++;
        irq.raise();
        return 1;
    }

    /**
     * One pass over the chain: fetch, follow TICs and command chaining, check each command; with
     * {@code run}, carry each out ({@link #chainDone} counts them). {@link #chainIndex} ends at the
     * command that stopped the pass.
     *
     * @return 0, or the negative errno of the command that stopped the pass
     */
    private int walkChain(boolean run) {
        long next = chainAddress;
        int fetched = 0;
        chainDone = 0;
        chainIndex = 0;
        while (true) {
            for (int k = 0; k < fetched; k++) {
                if (chainFetched[k] == next) {
                    return fail(-Errno.ELOOP);
                }
            }
            if (fetched == ChannelCommand.MAX_CHAIN) {
                return fail(-Errno.E2BIG);
            }
            chainFetched[fetched++] = next;
            long ccw = (next & (ChannelCommand.BYTES - 1)) != 0 ? -Errno.EINVAL : dma.translate(deviceId, next, Translation.READ);
            if (ccw < 0) {
                return fail((int) ccw);
            }
            memory.getBytes(ccw, channelCommand, 0, ChannelCommand.BYTES);
            int command = channelCommand.getByte(ChannelCommand.COMMAND) & 0xFF;
            long address = channelCommand.getLong(ChannelCommand.ADDRESS);
            if (command == ChannelCommand.TIC) {
                next = address;
                continue;
            }
            int count = channelCommand.getShort(ChannelCommand.COUNT) & 0xFFFF;
            long sector = Integer.toUnsignedLong(channelCommand.getInt(ChannelCommand.SECTOR));
            int r = ChannelCommand.check(command, count, sector, address, backing.sectors());
            if (r == 0 && command != ChannelCommand.CONTROL) {
                long ma = dma.translate(deviceId, address, command == ChannelCommand.READ ? Translation.WRITE : Translation.READ);
                r = ma < 0 ? (int) ma : run ? transfer(command == ChannelCommand.READ, sector, ma, count) : 0;
            } else if (r == 0 && run) {
                r = backing.flush();
            }
            if (r < 0) {
                return fail(r);
            }
            if (run) {
                chainDone++;
            }
            if ((channelCommand.getByte(ChannelCommand.FLAGS) & ChannelCommand.CC) == 0) {
                return 0;
            }
            chainIndex++;
            next += ChannelCommand.BYTES;
        }
    }

    /** One checked transfer of a channel command to or from machine address {@code ma}. */
    private int transfer(boolean read, long sector, long ma, int count) {
        long offset = sector << BlockBacking.SECTOR_SHIFT;
        int r = read ? backing.read(offset, memory, ma, count) : backing.write(offset, memory, ma, count);
        if (r < 0) {
            return r;
        }
        bytesMoved += count;
        clock.advance(CostPart.DEVICE, profile.copyPicos(count));
        return 0;
    }

    private int serveQueue() {
        QueueConsumer sq = submissions;
        if (sq == null || failed) {
            // A device without queues, or stopped by a bad queue, drops its doorbell as hardware
            // does: left set, hasWork would stay true and a guest could keep the device's thread
            // spinning for good.
            DOORBELL.setRelease(this, 0);
            moreWork = false;
            return 0;
        }
        if ((int) DOORBELL.getAndSet(this, 0) == 0 && !moreWork) {
            return 0;
        }
        long available = sq.available();
        if (available < 0 || available > entries) {
            failed = true;
            errors++;
            return 0;
        }
        int budget = (int) Math.min(available, completions.freeSlots());
        moreWork = budget < available;
        for (int i = 0; i < budget; i++) {
            long slotMa = sq.slot(i);
            long completionMa = completions.slot(i);
            if (slotMa < 0 || completionMa < 0) {
                failed = true;
                errors++;
                return i;
            }
            memory.getBytes(slotMa, command, 0, BlockCommand.BYTES);
            int moved = execute();
            memory.putInt(completionMa + BlockCommand.COMPLETION_TAG, command.getInt(BlockCommand.TAG));
            memory.putInt(completionMa + BlockCommand.COMPLETION_STATUS, moved < 0 ? moved : 0);
            memory.putInt(completionMa + BlockCommand.COMPLETION_LENGTH, moved < 0 ? 0 : moved);
        }
        if (budget > 0) {
            sq.consume(budget);
            completions.publish(budget);
            interrupts++;
            irq.raise();
        }
        commands += budget;
        return budget;
    }

    /** Runs the command in the private buffer: bytes moved, or a negative errno. */
    private int execute() {
        int op = command.getByte(BlockCommand.OPCODE) & 0xFF;
        if (!BlockCommand.validOpcode(op)) {
            return fail(-Errno.EOPNOTSUPP);
        }
        if (op == BlockCommand.OP_FLUSH) {
            int r = backing.flush();
            return r < 0 ? fail(r) : 0;
        }
        int segments = command.getByte(BlockCommand.SEGMENT_COUNT) & 0xFF;
        if (segments < 1 || segments > BlockCommand.MAX_SEGMENTS) {
            return fail(-Errno.EINVAL);
        }
        int access = op == BlockCommand.OP_READ ? Translation.WRITE : Translation.READ;
        int pages = 0;
        long total = 0;
        for (int s = 0; s < segments; s++) {
            int off = BlockCommand.segmentOffset(s);
            long address = command.getLong(off + BlockCommand.SEGMENT_ADDRESS);
            int length = command.getInt(off + BlockCommand.SEGMENT_LENGTH);
            if (length <= 0 || length > MachineMemory.PAGE_SIZE || (length & (BlockBacking.SECTOR_SIZE - 1)) != 0) {
                return fail(-Errno.EINVAL);
            }
            // A segment spans at most two pages; translate each before moving any byte.
            while (length > 0) {
                int chunk = (int) Math.min(length, MachineMemory.PAGE_SIZE - (address & MachineMemory.PAGE_MASK));
                long ma = dma.translate(deviceId, address, access);
                if (ma < 0) {
                    return fail(-Errno.EFAULT);
                }
                pageMa[pages] = ma;
                pageLength[pages] = chunk;
                pages++;
                address += chunk;
                length -= chunk;
                total += chunk;
            }
        }
        long sector = command.getLong(BlockCommand.SECTOR);
        long sectors = total >>> BlockBacking.SECTOR_SHIFT;
        if (sector < 0 || sector > backing.sectors() - sectors) {
            return fail(-Errno.ENOSPC);
        }
        long offset = sector << BlockBacking.SECTOR_SHIFT;
        for (int p = 0; p < pages; p++) {
            int r = op == BlockCommand.OP_READ
                ? backing.read(offset, memory, pageMa[p], pageLength[p])
                : backing.write(offset, memory, pageMa[p], pageLength[p]);
            if (r < 0) {
                return fail(r);
            }
            offset += pageLength[p];
        }
        bytesMoved += total;
        clock.advance(CostPart.DEVICE, profile.copyPicos(total));
        return (int) total;
    }

    private int fail(int status) {
        errors++;
        return status;
    }

    public String name() {
        return name;
    }

    public int deviceId() {
        return deviceId;
    }

    public BlockBacking backing() {
        return backing;
    }

    public DmaTranslation dma() {
        return dma;
    }

    public VirtualClock clock() {
        return clock;
    }

    public long commands() {
        return commands;
    }

    public long errors() {
        return errors;
    }

    public long bytesMoved() {
        return bytesMoved;
    }

    public long interrupts() {
        return interrupts;
    }

    public long doorbells() {
        return doorbells;
    }

    /** Channel programs run. */
    public long chains() {
        return chains;
    }
}
