package org.hvbench.core.hv;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.IrqLine;
import org.hvbench.core.dev.BlockBacking;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.dev.ChannelCommand;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.iommu.DmaMapper;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;

/**
 * The device driver in the hypervisor (CP/67, z/VM, the VAX security kernel): the hypervisor owns the
 * block device and shares it among guests, which reach it in one of two ways.
 * <ul>
 * <li>Paravirtual ({@code hypervisor-pv}): the guest kernel passes Xen block requests
 *     ({@link BlockProtocol}) by hypercall; responses come back in a queue page the guest
 *     registered, followed by a virtual interrupt.</li>
 * <li>Trapped ({@code hypervisor-trap}): the guest kernel runs an unmodified driver for the real
 *     device's register interface; every register write traps, and this class is the device model:
 *     it reads the guest's own submission queue through the guest's p2m, rewrites every address to a
 *     machine address, and posts completions into the guest's completion queue.</li>
 * <li>Channel programs ({@code channel-program}): the guest writes a chain of commands in its memory
 *     and starts it with one trapped start-I/O ({@link VmExit#START_IO}); the hypervisor copies the
 *     whole chain into private memory, following its TICs, checks every command and address, rewrites
 *     the addresses to machine addresses and starts all of the chain's commands with one doorbell.
 *     When the last one completes it writes the channel status and gives the guest one virtual
 *     interrupt. A chain with a bad command, an address outside the guest, more than
 *     {@value ChannelCommand#MAX_CHAIN} commands or a TIC back into itself is refused whole, before
 *     any byte moves; what the guest writes into its chain after the start has no effect.</li>
 * </ul>
 * Each request is copied into the hypervisor's private area once and only the copy is
 * checked and used (no double fetch); every segment must translate through the guest's p2m to a frame
 * the guest owns; the sector range must lie inside the guest's own virtual disk. A bad request gets
 * its errno and no byte of the disk or of another domain changes.
 *
 * <p>Each guest sees its own virtual disk, an extent of the real one given by {@link #assignDisk}
 * (VM/370's minidisks): sector 0 of the guest is the extent's first sector, and a guest with no
 * extent cannot connect. Without extents, every guest could overwrite every other guest's data with
 * perfectly valid requests.
 *
 * <p>Runs on the CPU it was attached to; the guests it serves run there too (the uniprocessor of the
 * paper's analysis).
 */
public final class HypervisorBlockDriver implements MmioHandler, ChannelHandler {
    /** Requests one submit hypercall may carry (32 x 112 bytes fit the private page). */
    public static final int MAX_BATCH = 32;
    private static final int KIND_PV = 1;
    private static final int KIND_TRAP = 2;
    private static final int KIND_CHANNEL = 3;

    private final Hypervisor hv;
    private final MachineMemory memory;
    private final FrameAllocator frames;
    private final BlockDevice device;
    private final long diskSectors;
    private final long[] extentFirst = new long[Hypervisor.MAX_DOMAINS];
    private final long[] extentSectors = new long[Hypervisor.MAX_DOMAINS];
    private final Cpu cpu;
    private final Context deviceContext;
    private final AddressSpace hvSpace;
    private final int entries;
    private final QueueProducer sq;
    private final QueueConsumer cq;

    private final int[] freeTags;
    private int freeTagCount;
    private final int[] tagDomain;
    private final long[] tagGuestId;
    private final int[] tagOp;
    private final long[][] tagIova;
    private final int[] tagIovas;
    private final DmaMapper dma;

    private final long[] segmentMa = new long[MAX_BATCH * BlockCommand.MAX_SEGMENTS];
    private final int[] segmentLength = new int[MAX_BATCH * BlockCommand.MAX_SEGMENTS];
    private final int[] segmentCount = new int[MAX_BATCH];
    private final long[] deviceSector = new long[Math.max(MAX_BATCH, ChannelCommand.MAX_CHAIN)];
    /** Guest addresses of the commands of the chain being copied: a TIC back to one of them is a loop. */
    private final long[] fetchedAt = new long[ChannelCommand.MAX_CHAIN];
    private final Connection[] connections = new Connection[Hypervisor.MAX_DOMAINS];
    // The connections in the order they were made: the device interrupt walks these, not every domain id.
    private final Connection[] live = new Connection[Hypervisor.MAX_DOMAINS];
    private int liveCount;

    private long submitted;
    private long completed;
    private long rejected;
    private long dropped;

    /** What the hypervisor knows of one guest it serves. */
    private static final class Connection {
        final Domain domain;
        final int kind;
        int outstanding;
        int batch;
        boolean failed;
        // Paravirtual: the response queue the guest registered.
        QueueProducer responses;
        // Trapped: the virtual device's registers and the guest's queues behind them.
        long sqBase;
        long cqBase;
        int entries;
        QueueConsumer guestSq;
        QueueProducer guestCq;
        boolean moreWork;
        // Channel programs: the chain under way (one at a time) and where its status goes.
        boolean chainActive;
        int chainCommands;
        int chainCompleted;
        int chainFailedAt;
        int chainResult;
        long statusGpa;

        Connection(Domain domain, int kind) {
            this.domain = domain;
            this.kind = kind;
        }
    }

    HypervisorBlockDriver(Hypervisor hv, Machine machine, Cpu cpu, int vector) {
        this.hv = hv;
        this.memory = machine.memory();
        this.frames = machine.frames();
        this.device = machine.device();
        this.diskSectors = device.backing().sectors();
        this.cpu = cpu;
        this.deviceContext = hv.deviceContext();
        this.hvSpace = hv.space();
        this.entries = machine.config().queueEntries();
        long sqMa = allocate(MemoryQueue.pages(BlockCommand.BYTES, entries));
        long cqMa = allocate(MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries));
        if (machine.config().iommuTranslates()) {
            // The hypervisor's own I/O page table: queues mapped for good, data pages per request.
            PageTable io = new PageTable(frames, machine.config().pageTableLevels(), Hypervisor.DOMID_XEN);
            int tag = machine.newAsid();
            machine.iommu().attachTable(device.deviceId(), io, tag);
            this.dma = new DmaMapper(machine.iommu(), io, tag);
            for (long p = 0; p < MemoryQueue.pages(BlockCommand.BYTES, entries); p++) {
                dma.mapPermanently(sqMa + (p << MachineMemory.PAGE_SHIFT));
            }
            for (long p = 0; p < MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries); p++) {
                dma.mapPermanently(cqMa + (p << MachineMemory.PAGE_SHIFT));
            }
        } else {
            this.dma = null;
        }
        // Hypervisor virtual = machine address (direct map), and without an IOMMU the bus address too.
        this.sq = new QueueProducer(memory, cpu.view(hvSpace), sqMa, BlockCommand.BYTES, entries);
        this.cq = new QueueConsumer(memory, cpu.view(hvSpace), cqMa, BlockCommand.COMPLETION_BYTES, entries);
        this.freeTags = new int[entries];
        this.tagDomain = new int[entries];
        this.tagGuestId = new long[entries];
        this.tagOp = new int[entries];
        this.tagIova = new long[entries][BlockCommand.MAX_SEGMENTS];
        this.tagIovas = new int[entries];
        for (int t = 0; t < entries; t++) {
            freeTags[t] = entries - 1 - t;
        }
        this.freeTagCount = entries;
        cpu.interrupts().register(vector, this::onDeviceInterrupt);
        device.connectInterrupt(IrqLine.of(cpu.interrupts(), vector));
        program(BlockDevice.REG_SQ_BASE, sqMa);
        program(BlockDevice.REG_CQ_BASE, cqMa);
        program(BlockDevice.REG_ENTRIES, entries);
        program(BlockDevice.REG_CONTROL, 1);
    }

    /** Device memory for the queues (DOMID_IO): reachable by the device even behind an exclusion vector. */
    private long allocate(int pages) {
        long mfn = frames.allocateContiguous(pages, 1, FrameAllocator.OWNER_IO);
        if (mfn < 0) {
            throw new IllegalStateException("memory: no " + pages + " contiguous free frames for the device queues");
        }
        return mfn << MachineMemory.PAGE_SHIFT;
    }

    private void program(int register, long value) {
        int r = device.mmioWrite(register, value);
        if (r < 0) {
            throw new IllegalStateException("block device refused register " + register + " = " + value + ": " + Errno.name(r));
        }
    }

    /**
     * Gives {@code domain} its virtual disk: {@code sectors} sectors of the real disk from
     * {@code firstSector} (a toolstack operation; replaces the domain's previous extent).
     *
     * @throws IllegalArgumentException when the extent leaves the disk or overlaps another domain's
     */
    public void assignDisk(Domain domain, long firstSector, long sectors) {
        if (firstSector < 0 || sectors < 1 || firstSector > diskSectors - sectors) {
            throw new IllegalArgumentException("virtual disk of " + domain + ": sectors " + firstSector + ".."
                + (firstSector + sectors - 1) + " are not inside the disk's " + diskSectors + " sectors");
        }
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            if (id != domain.id() && extentSectors[id] > 0 && firstSector < extentFirst[id] + extentSectors[id]
                && extentFirst[id] < firstSector + sectors) {
                throw new IllegalArgumentException("virtual disk of " + domain + " would overlap the one of domain " + id);
            }
        }
        extentFirst[domain.id()] = firstSector;
        extentSectors[domain.id()] = sectors;
    }

    /** Sectors of {@code domain}'s virtual disk (0 when it has none). */
    public long diskSectors(Domain domain) {
        return extentSectors[domain.id()];
    }

    // ---------------------------------------------------------------- paravirtual: the BLOCK_IO hypercall

    long hypercall(Cpu cpu, Domain d, long cmd, long a1, long a2, long a3) {
        if (cpu != this.cpu) {
            return -Errno.EINVAL;
        }
        if (cmd == Hypercall.BLOCK_SETUP) {
            return setup(d, a1, a2);
        }
        if (cmd == Hypercall.BLOCK_SUBMIT) {
            return submit(d, a1, a2);
        }
        return -Errno.EINVAL;
    }

    private long setup(Domain d, long queueGpa, long queueEntries) {
        if (queueEntries < 1 || queueEntries > 4096 || Long.bitCount(queueEntries) != 1
            || MemoryQueue.bytes(BlockProtocol.RESPONSE_BYTES, (int) queueEntries) > MachineMemory.PAGE_SIZE
            || (queueGpa & MachineMemory.PAGE_MASK) != 0) {
            return -Errno.EINVAL;
        }
        Connection c = connections[d.id()];
        if (c != null && (c.kind != KIND_PV || c.outstanding > 0)) {
            return -Errno.EBUSY;
        }
        int verdict = mayConnect(d);
        if (verdict < 0) {
            return verdict;
        }
        if (!ownedAndMapped(d, queueGpa, Translation.READ | Translation.WRITE)) {
            return -Errno.EFAULT;
        }
        c = new Connection(d, KIND_PV);
        c.responses = new QueueProducer(memory, cpu.view(d.space()), queueGpa, BlockProtocol.RESPONSE_BYTES, (int) queueEntries);
        install(d, c);
        return 0;
    }

    /** Makes {@code c} the connection of {@code d}, replacing its old one in the list the interrupt walks. */
    private void install(Domain d, Connection c) {
        Connection old = connections[d.id()];
        connections[d.id()] = c;
        if (old == null) {
            live[liveCount++] = c;
            return;
        }
        for (int i = 0; i < liveCount; i++) {
            if (live[i] == old) {
                live[i] = c;
            }
        }
    }

    /** A guest may use the device when it has a virtual disk and access control agrees. */
    private int mayConnect(Domain d) {
        if (extentSectors[d.id()] == 0) {
            return -Errno.ENOENT;
        }
        return hv.accessControl().blockDeviceConnect(d, device.deviceId());
    }

    private long submit(Domain d, long requestsGpa, long count) {
        Connection c = connections[d.id()];
        if (c == null || c.kind != KIND_PV || c.failed) {
            return -Errno.ENOENT;
        }
        if (count < 1 || count > MAX_BATCH) {
            return -Errno.EINVAL;
        }
        int n = (int) count;
        if (freeTagCount < n || sq.freeSlots() < n || c.responses.freeSlots() - c.outstanding < n) {
            return -Errno.EAGAIN;
        }
        // Copy every request into private memory once; from here on only the copy is read.
        long privateVa = hv.scratch(cpu);
        int r = cpu.copy(d.space(), requestsGpa, hvSpace, privateVa, n * BlockProtocol.REQUEST_BYTES);
        if (r < 0) {
            rejected++;
            return r;
        }
        long privateMa = cpu.translate(hvSpace, privateVa, Translation.READ);
        for (int i = 0; i < n; i++) {
            r = checkParavirtual(d, privateMa + (long) i * BlockProtocol.REQUEST_BYTES, i);
            if (r < 0) {
                rejected++;
                return r;
            }
        }
        for (int i = 0; i < n; i++) {
            long req = privateMa + (long) i * BlockProtocol.REQUEST_BYTES;
            int op = memory.getByte(req + BlockProtocol.OPERATION);
            queueCommand(i, d.id(), memory.getLong(req + BlockProtocol.ID), op, deviceSector[i],
                i * BlockCommand.MAX_SEGMENTS, segmentCount[i]);
        }
        c.outstanding += n;
        startDevice(n);
        return n;
    }

    /** Checks one private copy of a blkif request and translates its segments into slot {@code i}. */
    private int checkParavirtual(Domain d, long req, int i) {
        segmentCount[i] = 0;
        int segments = BlockProtocol.check(memory, req, extentSectors[d.id()]);
        if (segments < 0) {
            return segments;
        }
        int access = (memory.getByte(req + BlockProtocol.OPERATION) & 0xFF) == BlockProtocol.OP_READ
            ? Translation.WRITE : Translation.READ;
        int base = i * BlockCommand.MAX_SEGMENTS;
        for (int s = 0; s < segments; s++) {
            long seg = req + BlockProtocol.segmentOffset(s);
            long gfn = Integer.toUnsignedLong(memory.getInt(seg + BlockProtocol.SEGMENT_REF));
            int first = memory.getByte(seg + BlockProtocol.SEGMENT_FIRST_SECT) & 0xFF;
            int last = memory.getByte(seg + BlockProtocol.SEGMENT_LAST_SECT) & 0xFF;
            long ma = translateOwned(d, gfn << MachineMemory.PAGE_SHIFT, access);
            if (ma < 0) {
                return (int) ma;
            }
            segmentMa[base + s] = ma + ((long) first << BlockBacking.SECTOR_SHIFT);
            segmentLength[base + s] = (last - first + 1) << BlockBacking.SECTOR_SHIFT;
        }
        deviceSector[i] = extentFirst[d.id()] + memory.getLong(req + BlockProtocol.SECTOR);
        segmentCount[i] = segments;
        return 0;
    }

    // ---------------------------------------------------------------- trapped: the device model

    /** The device model: a trapped write to the virtual device's registers. */
    @Override
    public long mmioWrite(Cpu cpu, Domain d, int register, long value) {
        if (cpu != this.cpu) {
            return -Errno.EINVAL;
        }
        Connection c = connections[d.id()];
        if (c == null) {
            c = new Connection(d, KIND_TRAP);
            install(d, c);
        } else if (c.kind != KIND_TRAP) {
            return -Errno.EBUSY;
        }
        switch (register) {
            case BlockDevice.REG_SQ_BASE:
                c.sqBase = value;
                return 0;
            case BlockDevice.REG_CQ_BASE:
                c.cqBase = value;
                return 0;
            case BlockDevice.REG_ENTRIES:
                if (value < 1 || value > BlockDevice.MAX_ENTRIES || Long.bitCount(value) != 1) {
                    return -Errno.EINVAL;
                }
                c.entries = (int) value;
                return 0;
            case BlockDevice.REG_CONTROL:
                return value == 1 ? enableVirtualDevice(c) : resetVirtualDevice(c);
            case BlockDevice.REG_DOORBELL:
                return serveGuestQueue(c);
            default:
                return -Errno.EINVAL;
        }
    }

    private int enableVirtualDevice(Connection c) {
        Domain d = c.domain;
        if (c.entries == 0 || (c.sqBase & MachineMemory.PAGE_MASK) != 0 || (c.cqBase & MachineMemory.PAGE_MASK) != 0) {
            return -Errno.EINVAL;
        }
        int verdict = mayConnect(d);
        if (verdict < 0) {
            return verdict;
        }
        if (!ownedAndMapped(d, c.sqBase, Translation.READ | Translation.WRITE)
            || !ownedAndMapped(d, c.cqBase, Translation.READ | Translation.WRITE)) {
            return -Errno.EFAULT;
        }
        c.guestSq = new QueueConsumer(memory, cpu.view(d.space()), c.sqBase, BlockCommand.BYTES, c.entries);
        c.guestCq = new QueueProducer(memory, cpu.view(d.space()), c.cqBase, BlockCommand.COMPLETION_BYTES, c.entries);
        c.failed = false;
        return 0;
    }

    private int resetVirtualDevice(Connection c) {
        c.guestSq = null;
        c.guestCq = null;
        c.failed = false;
        c.moreWork = false;
        return 0;
    }

    /** After a trapped doorbell: takes the guest's new commands, each copied once, checked, rewritten. */
    private int serveGuestQueue(Connection c) {
        QueueConsumer guestSq = c.guestSq;
        if (guestSq == null || c.failed) {
            return -Errno.EINVAL;
        }
        long available = guestSq.available();
        if (available < 0 || available > c.entries) {
            // A producer index further ahead than the queue is long: the guest broke its own queue.
            c.failed = true;
            rejected++;
            return -Errno.EINVAL;
        }
        Domain d = c.domain;
        long privateVa = hv.scratch(cpu) + Hypervisor.SCRATCH_COMMAND;
        long privateMa = cpu.translate(hvSpace, privateVa, Translation.READ | Translation.WRITE);
        int taken = 0;
        int started = 0;
        c.moreWork = false;
        while (taken < available) {
            if (freeTagCount == 0 || sq.freeSlots() <= started || c.guestCq.freeSlots() - c.outstanding - c.batch <= 0) {
                c.moreWork = true;
                break;
            }
            long slotMa = guestSq.slot(taken);
            if (slotMa < 0) {
                c.failed = true;
                break;
            }
            memory.copy(slotMa, privateMa, BlockCommand.BYTES);
            taken++;
            int r = checkTrapped(d, privateMa);
            if (r < 0) {
                rejected++;
                postGuestCompletion(c, memory.getInt(privateMa + BlockCommand.TAG), r, 0);
                continue;
            }
            queueCommand(started, d.id(), Integer.toUnsignedLong(memory.getInt(privateMa + BlockCommand.TAG)),
                memory.getByte(privateMa + BlockCommand.OPCODE), deviceSector[0], 0, segmentCount[0]);
            started++;
            c.outstanding++;
        }
        guestSq.consume(taken);
        publishGuestCompletions(c);
        if (started > 0) {
            startDevice(started);
        }
        return c.failed ? -Errno.EINVAL : 0;
    }

    /** Checks a private copy of a guest's device command; its translated segments go to slot 0. */
    private int checkTrapped(Domain d, long cmd) {
        segmentCount[0] = 0;
        int segments = BlockCommand.check(memory, cmd, extentSectors[d.id()]);
        if (segments < 0) {
            return segments;
        }
        int access = (memory.getByte(cmd + BlockCommand.OPCODE) & 0xFF) == BlockCommand.OP_READ
            ? Translation.WRITE : Translation.READ;
        for (int s = 0; s < segments; s++) {
            long seg = cmd + BlockCommand.segmentOffset(s);
            long ma = translateOwned(d, memory.getLong(seg + BlockCommand.SEGMENT_ADDRESS), access);
            if (ma < 0) {
                return (int) ma;
            }
            segmentMa[s] = ma;
            segmentLength[s] = memory.getInt(seg + BlockCommand.SEGMENT_LENGTH);
        }
        deviceSector[0] = extentFirst[d.id()] + memory.getLong(cmd + BlockCommand.SECTOR);
        segmentCount[0] = segments;
        return 0;
    }

    private void postGuestCompletion(Connection c, int guestTag, int status, int length) {
        long slot = c.guestCq.slot(c.batch);
        if (slot < 0) {
            c.failed = true;
            dropped++;
            return;
        }
        memory.putInt(slot + BlockCommand.COMPLETION_TAG, guestTag);
        memory.putInt(slot + BlockCommand.COMPLETION_STATUS, status);
        memory.putInt(slot + BlockCommand.COMPLETION_LENGTH, length);
        c.batch++;
    }

    private void publishGuestCompletions(Connection c) {
        if (c.batch > 0) {
            if (c.kind == KIND_PV) {
                c.responses.publish(c.batch);
            } else {
                c.guestCq.publish(c.batch);
            }
            c.batch = 0;
            c.domain.markVirqPending();
        }
    }

    // ---------------------------------------------------------------- channel programs

    /** A trapped start-I/O: copy the chain, check and relocate every command, start them all at once. */
    @Override
    public long startIo(Cpu cpu, Domain d, long chainGpa, long statusGpa) {
        if (cpu != this.cpu) {
            return -Errno.EINVAL;
        }
        Connection c = connections[d.id()];
        if (c == null) {
            int verdict = mayConnect(d);
            if (verdict < 0) {
                return verdict;
            }
            c = new Connection(d, KIND_CHANNEL);
            install(d, c);
        } else if (c.kind != KIND_CHANNEL) {
            return -Errno.EBUSY;
        }
        if (c.chainActive) {
            return -Errno.EBUSY;
        }
        if ((statusGpa & (ChannelCommand.STATUS_BYTES - 1)) != 0 || !ownedAndMapped(d, statusGpa, Translation.WRITE)) {
            rejected++;
            return -Errno.EFAULT;
        }
        int n = copyChain(d, chainGpa);
        if (n < 0) {
            rejected++;
            return n;
        }
        if (freeTagCount < n || sq.freeSlots() < n) {
            return -Errno.EAGAIN;
        }
        long privateMa = cpu.translate(hvSpace, hv.scratch(cpu) + Hypervisor.SCRATCH_CHAIN, Translation.READ);
        for (int i = 0; i < n; i++) {
            int command = memory.getByte(privateMa + (long) i * ChannelCommand.BYTES + ChannelCommand.COMMAND);
            if (command == ChannelCommand.CONTROL) {
                queueCommand(i, d.id(), i, BlockCommand.OP_FLUSH, 0, i, 0);
            } else {
                queueCommand(i, d.id(), i, command == ChannelCommand.READ ? BlockCommand.OP_READ : BlockCommand.OP_WRITE,
                    deviceSector[i], i, 1);
            }
        }
        c.chainActive = true;
        c.chainCommands = n;
        c.chainCompleted = 0;
        c.chainFailedAt = n;
        c.chainResult = 0;
        c.statusGpa = statusGpa;
        c.outstanding += n;
        startDevice(n);
        return 0;
    }

    /**
     * Copies the chain at {@code chainGpa} into private memory, following TICs (which are not kept),
     * and checks each data or control command as it lands: the command, count and sectors, and that its data
     * page is the guest's own with the access the transfer needs. Slot {@code i} of the copy, of
     * {@link #segmentMa} and of {@link #deviceSector} then describe data command {@code i}.
     *
     * @return the number of data commands, or a negative errno (nothing started)
     */
    private int copyChain(Domain d, long chainGpa) {
        long privateVa = hv.scratch(cpu) + Hypervisor.SCRATCH_CHAIN;
        long privateMa = cpu.translate(hvSpace, privateVa, Translation.READ | Translation.WRITE);
        long next = chainGpa;
        int fetched = 0;
        int n = 0;
        while (true) {
            if ((next & (ChannelCommand.BYTES - 1)) != 0) {
                return -Errno.EINVAL;
            }
            for (int k = 0; k < fetched; k++) {
                if (fetchedAt[k] == next) {
                    return -Errno.ELOOP;
                }
            }
            if (fetched == ChannelCommand.MAX_CHAIN) {
                return -Errno.E2BIG;
            }
            fetchedAt[fetched++] = next;
            int r = cpu.copy(d.space(), next, hvSpace, privateVa + (long) n * ChannelCommand.BYTES, ChannelCommand.BYTES);
            if (r < 0) {
                return r;
            }
            long ccw = privateMa + (long) n * ChannelCommand.BYTES;
            int command = memory.getByte(ccw + ChannelCommand.COMMAND) & 0xFF;
            if (command == ChannelCommand.TIC) {
                next = memory.getLong(ccw + ChannelCommand.ADDRESS);
                continue;
            }
            r = ChannelCommand.check(memory, ccw, extentSectors[d.id()]);
            if (r < 0) {
                return r;
            }
            if (command == ChannelCommand.CONTROL) {
                n++;
                if ((memory.getByte(ccw + ChannelCommand.FLAGS) & ChannelCommand.CC) == 0) {
                    return n;
                }
                next += ChannelCommand.BYTES;
                continue;
            }
            int access = command == ChannelCommand.READ ? Translation.WRITE : Translation.READ;
            long ma = translateOwned(d, memory.getLong(ccw + ChannelCommand.ADDRESS), access);
            if (ma < 0) {
                return (int) ma;
            }
            segmentMa[n] = ma;
            segmentLength[n] = memory.getShort(ccw + ChannelCommand.COUNT) & 0xFFFF;
            deviceSector[n] = extentFirst[d.id()] + Integer.toUnsignedLong(memory.getInt(ccw + ChannelCommand.SECTOR));
            n++;
            if ((memory.getByte(ccw + ChannelCommand.FLAGS) & ChannelCommand.CC) == 0) {
                return n;
            }
            next += ChannelCommand.BYTES;
        }
    }

    /** One command of a chain completed; after the last, the channel status and one virtual interrupt. */
    private void chainCommandDone(Connection c, int index, int status) {
        if (status < 0 && index < c.chainFailedAt) {
            c.chainFailedAt = index;
            c.chainResult = status;
        }
        if (++c.chainCompleted < c.chainCommands) {
            return;
        }
        c.chainActive = false;
        long statusMa = translateOwned(c.domain, c.statusGpa, Translation.WRITE);
        if (statusMa < 0) {
            dropped++;
        } else {
            memory.putInt(statusMa + ChannelCommand.STATUS_DONE, c.chainFailedAt);
            memory.putInt(statusMa + ChannelCommand.STATUS_RESULT, c.chainResult);
            memory.putInt(statusMa + ChannelCommand.STATUS_FAILED_AT, c.chainResult < 0 ? c.chainFailedAt : 0);
            memory.putInt(statusMa + ChannelCommand.STATUS_FAILED_AT + 4, 0);
        }
        c.domain.markVirqPending();
    }

    // ---------------------------------------------------------------- shared: the real device

    /** Translates a guest-physical address and insists the frame is the guest's own. */
    private long translateOwned(Domain d, long gpa, int access) {
        long ma = cpu.translate(d.space(), gpa, access);
        if (ma < 0 || frames.owner(ma >>> MachineMemory.PAGE_SHIFT) != d.id()) {
            return -Errno.EFAULT;
        }
        return ma;
    }

    private boolean ownedAndMapped(Domain d, long gpa, int access) {
        return translateOwned(d, gpa, access) >= 0;
    }

    /** Writes a device command for checked segments {@code [base, base + segments)} into the next SQ slot. */
    private void queueCommand(int ahead, int domainId, long guestId, int op, long sector, int base, int segments) {
        int tag = freeTags[--freeTagCount];
        tagDomain[tag] = domainId;
        tagGuestId[tag] = guestId;
        tagOp[tag] = op;
        long slot = sq.slot(ahead);
        memory.putByte(slot + BlockCommand.OPCODE, (byte) op);
        memory.putByte(slot + BlockCommand.SEGMENT_COUNT, (byte) segments);
        memory.putInt(slot + BlockCommand.TAG, tag);
        memory.putLong(slot + BlockCommand.SECTOR, sector);
        int deviceAccess = op == BlockCommand.OP_READ ? Translation.WRITE : Translation.READ;
        for (int s = 0; s < segments; s++) {
            long bus = segmentMa[base + s];
            if (dma != null) {
                bus = dma.map(bus, deviceAccess);
                if (bus < 0) {
                    throw new IllegalStateException("the hypervisor's I/O page table is out of frames: " + Errno.name(bus));
                }
                tagIova[tag][s] = bus;
            }
            int off = BlockCommand.segmentOffset(s);
            memory.putLong(slot + off + BlockCommand.SEGMENT_ADDRESS, bus);
            memory.putInt(slot + off + BlockCommand.SEGMENT_LENGTH, segmentLength[base + s]);
        }
        tagIovas[tag] = dma == null ? 0 : segments;
        submitted++;
    }

    private void startDevice(int commands) {
        sq.publish(commands);
        cpu.startDevice(deviceContext, "the hypervisor starts the I/O on the device");
        device.mmioWrite(BlockDevice.REG_DOORBELL, 0);
    }

    /** The device's interrupt: route each completion to its guest, then virtual interrupts. */
    private void onDeviceInterrupt(Cpu cpu, int vector) {
        cpu.takeInterrupt(deviceContext, hv.context(cpu), "the device interrupts the hypervisor: I/O done");
        long n = cq.available();
        if (n > entries) {
            throw new IllegalStateException("block device completion queue corrupted: " + n + " entries");
        }
        for (int i = 0; i < n; i++) {
            long slot = cq.slot(i);
            int tag = memory.getInt(slot + BlockCommand.COMPLETION_TAG);
            int status = memory.getInt(slot + BlockCommand.COMPLETION_STATUS);
            int length = memory.getInt(slot + BlockCommand.COMPLETION_LENGTH);
            Connection c = connections[tagDomain[tag]];
            for (int s = 0; s < tagIovas[tag]; s++) {
                dma.unmap(tagIova[tag][s]);
            }
            tagIovas[tag] = 0;
            freeTags[freeTagCount++] = tag;
            completed++;
            if (c == null || c.failed) {
                dropped++;
                continue;
            }
            c.outstanding--;
            if (c.kind == KIND_CHANNEL) {
                chainCommandDone(c, (int) tagGuestId[tag], status);
            } else if (c.kind == KIND_PV) {
                long slotMa = c.responses.slot(c.batch);
                if (slotMa < 0) {
                    c.failed = true;
                    dropped++;
                    continue;
                }
                memory.putLong(slotMa + BlockProtocol.RESPONSE_ID, tagGuestId[tag]);
                memory.putByte(slotMa + BlockProtocol.RESPONSE_OPERATION, (byte) tagOp[tag]);
                memory.putShort(slotMa + BlockProtocol.RESPONSE_STATUS, (short) status);
                c.batch++;
            } else if (c.guestCq != null) {
                postGuestCompletion(c, (int) tagGuestId[tag], status, length);
            } else {
                dropped++;
            }
        }
        cq.consume((int) n);
        for (int i = 0; i < liveCount; i++) {
            Connection c = live[i];
            publishGuestCompletions(c);
            if (c.moreWork && !c.failed) {
                serveGuestQueue(c);
            }
        }
        hv.deliverVirtualInterrupts(cpu);
    }

    public long submitted() {
        return submitted;
    }

    public long completed() {
        return completed;
    }

    /** Requests refused with an errno. */
    public long rejected() {
        return rejected;
    }

    /** Completions that found their guest gone or its queue broken. */
    public long dropped() {
        return dropped;
    }

    public int entries() {
        return entries;
    }
}
