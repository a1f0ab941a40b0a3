package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.QueueProducer;
import org.hvbench.core.mem.Translation;

/**
 * The driver for the block device's register interface ({@link BlockDevice}). The same code runs in
 * a native kernel (through {@link NativeDevicePort}) and, unmodified, in a fully virtualized guest
 * (through {@link TrappedDevicePort}), which is the point of full virtualization. Its queues live in
 * the kernel's memory; it tells the device bus addresses ({@link OsMemory#busAddress}).
 *
 * <p>Completions from the device are checked before use: a count beyond the queue size or an unknown
 * tag is dropped, so a broken device (or device model) cannot corrupt the kernel.
 */
public final class DeviceDriver implements BlockDriver {
    private final MachineMemory memory;
    private final DevicePort port;
    private final BlockCompletions kernel;
    private final int entries;
    private final QueueProducer submissions;
    private final QueueConsumer completions;
    private int pending;
    private long badCompletions;

    /** Allocates the queues and programs the device (through the port: native, or trapping). */
    public DeviceDriver(Cpu cpu, OsMemory os, DevicePort port, BlockCompletions kernel, int entries) {
        this.memory = os.memory();
        this.port = port;
        this.kernel = kernel;
        this.entries = entries;
        long sqVa = os.allocateContiguous(MemoryQueue.pages(BlockCommand.BYTES, entries));
        long cqVa = os.allocateContiguous(MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries));
        this.submissions = new QueueProducer(memory, cpu.view(os.space()), sqVa, BlockCommand.BYTES, entries);
        this.completions = new QueueConsumer(memory, cpu.view(os.space()), cqVa, BlockCommand.COMPLETION_BYTES, entries);
        program(cpu, BlockDevice.REG_SQ_BASE, queueBusAddress(cpu, os, sqVa, MemoryQueue.pages(BlockCommand.BYTES, entries)));
        program(cpu, BlockDevice.REG_CQ_BASE, queueBusAddress(cpu, os, cqVa, MemoryQueue.pages(BlockCommand.COMPLETION_BYTES, entries)));
        program(cpu, BlockDevice.REG_ENTRIES, entries);
        program(cpu, BlockDevice.REG_CONTROL, 1);
    }

    /**
     * The bus address of a queue of {@code pages} pages: every page is made reachable for the device
     * (mapped for good when an IOMMU translates) and must follow the previous one on the bus.
     */
    private static long queueBusAddress(Cpu cpu, OsMemory os, long va, int pages) {
        long first = os.busAddress(cpu, va, Translation.READ | Translation.WRITE);
        for (int p = 1; p < pages && first >= 0; p++) {
            long bus = os.busAddress(cpu, va + ((long) p << MachineMemory.PAGE_SHIFT), Translation.READ | Translation.WRITE);
            if (bus != first + ((long) p << MachineMemory.PAGE_SHIFT)) {
                throw new IllegalStateException("queue page " + p + " is not contiguous on the bus: 0x" + Long.toHexString(bus));
            }
        }
        return first;
    }

    private void program(Cpu cpu, int register, long value) {
        int r = value < 0 ? (int) value : port.write(cpu, register, value);
        if (r < 0) {
            throw new IllegalStateException("block device refused register " + register + ": " + Errno.name(r));
        }
    }

    @Override
    public int freeSlots() {
        return submissions.freeSlots() - pending;
    }

    @Override
    public int queue(Cpu cpu, int op, long sector, int tag, long[] segmentBus, int[] segmentLength, int first, int count) {
        if (count > BlockCommand.MAX_SEGMENTS) {
            return -Errno.EINVAL;
        }
        long slot = submissions.slot(pending);
        if (slot < 0) {
            return (int) slot;
        }
        memory.putByte(slot + BlockCommand.OPCODE, (byte) op);
        memory.putByte(slot + BlockCommand.SEGMENT_COUNT, (byte) count);
        memory.putInt(slot + BlockCommand.TAG, tag);
        memory.putLong(slot + BlockCommand.SECTOR, sector);
        for (int s = 0; s < count; s++) {
            int off = BlockCommand.segmentOffset(s);
            memory.putLong(slot + off + BlockCommand.SEGMENT_ADDRESS, segmentBus[first + s]);
            memory.putInt(slot + off + BlockCommand.SEGMENT_LENGTH, segmentLength[first + s]);
        }
        pending++;
        return 0;
    }

    @Override
    public int kick(Cpu cpu) {
        if (pending == 0) {
            return 0;
        }
        int r = submissions.publish(pending);
        pending = 0;
        return r < 0 ? r : port.write(cpu, BlockDevice.REG_DOORBELL, 0);
    }

    @Override
    public void onInterrupt(Cpu cpu) {
        long n = completions.available();
        if (n < 0 || n > entries) {
            badCompletions++;
            kernel.onInterruptDone(cpu);
            return;
        }
        for (int i = 0; i < n; i++) {
            long slot = completions.slot(i);
            if (slot < 0) {
                badCompletions++;
                continue;
            }
            kernel.onBlockComplete(cpu, memory.getInt(slot + BlockCommand.COMPLETION_TAG),
                memory.getInt(slot + BlockCommand.COMPLETION_STATUS));
        }
        completions.consume((int) n);
        kernel.onInterruptDone(cpu);
    }

    /** Completion batches that were out of bounds (a broken device or device model). */
    public long badCompletions() {
        return badCompletions;
    }
}
