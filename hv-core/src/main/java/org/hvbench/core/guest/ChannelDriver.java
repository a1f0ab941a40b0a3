package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockCommand;
import org.hvbench.core.dev.ChannelCommand;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VmExit;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * A channel-program block driver, the System/360 way: every page-bounded segment of every queued
 * request becomes one channel command ({@link ChannelCommand}), the commands are chained, and one
 * privileged start-I/O ({@link VmExit#START_IO}, which traps) hands the whole chain over; one
 * interrupt ends it, and the channel status says how far it got. One chain runs at a time; requests
 * queued meanwhile wait in the kernel and go out as the next chain from the interrupt handler.
 *
 * <p>A chain holds at most {@value ChannelCommand#MAX_CHAIN} commands and is cut between requests.
 * Addresses are guest-physical: the hypervisor relocates them ({@code channel-program}) or the IOMMU
 * translates them ({@code channel-program-iommu}); the driver is the same. A flush becomes one CONTROL
 * command.
 *
 * <p>After a chain ends, the requests whose commands all ran complete with 0; the request holding the
 * command that stopped it gets that command's errno; the others get {@code -ECANCELED}. A start
 * the hypervisor refuses (the condition code) fails every request of that chain with its errno.
 */
public final class ChannelDriver implements BlockDriver {
    /** Requests waiting or running at once. */
    public static final int MAX_REQUESTS = 512;
    /** Channel commands (segments) waiting or running at once. */
    public static final int MAX_COMMANDS = 4096;
    /** Where the 8-byte channel status sits in the chain's page. */
    static final int STATUS_OFFSET = MachineMemory.PAGE_SIZE / 2;

    private final Hypervisor hypervisor;
    private final MachineMemory memory;
    private final BlockCompletions kernel;
    private final long chainGpa;
    private final long chainMa;

    // Requests in order: [head, tail) wait or run; [head, head + running) is the running chain.
    private final int[] requestTag = new int[MAX_REQUESTS];
    private final int[] requestFirst = new int[MAX_REQUESTS];
    private final int[] requestCommands = new int[MAX_REQUESTS];
    private long requestHead;
    private long requestTail;
    private int running;
    private int runningCommands;

    // Channel commands in order, each one segment: [head, tail).
    private final byte[] commandOp = new byte[MAX_COMMANDS];
    private final int[] commandCount = new int[MAX_COMMANDS];
    private final long[] commandSector = new long[MAX_COMMANDS];
    private final long[] commandAddress = new long[MAX_COMMANDS];
    private long commandHead;
    private long commandTail;

    private long chains;
    private long refusedStarts;
    private long badStatus;
    private long spurious;

    /** Allocates the page that holds the chain and its status. */
    public ChannelDriver(Cpu cpu, Hypervisor hypervisor, DomainMemory os, BlockCompletions kernel) {
        this.hypervisor = hypervisor;
        this.memory = os.memory();
        this.kernel = kernel;
        this.chainGpa = os.allocate(1);
        this.chainMa = cpu.translate(os.space(), chainGpa, Translation.READ | Translation.WRITE);
        if (chainMa < 0) {
            throw new IllegalStateException("the channel program's page of " + os.domain() + " is not mapped: " + Errno.name(chainMa));
        }
    }

    @Override
    public int freeSlots() {
        long requests = MAX_REQUESTS - (requestTail - requestHead);
        long commands = (MAX_COMMANDS - (commandTail - commandHead)) / BlockCommand.MAX_SEGMENTS;
        return (int) Math.min(requests, commands);
    }

    @Override
    public int queue(Cpu cpu, int op, long sector, int tag, long[] segmentBus, int[] segmentLength, int first, int count) {
        boolean flush = op == BlockCommand.OP_FLUSH;
        int commands = flush ? 1 : count;
        if (flush != (count == 0) || count > BlockCommand.MAX_SEGMENTS) {
            return -Errno.EINVAL;
        }
        if (requestTail - requestHead == MAX_REQUESTS || MAX_COMMANDS - (commandTail - commandHead) < commands) {
            return -Errno.EAGAIN;
        }
        int r = (int) (requestTail & (MAX_REQUESTS - 1));
        requestTag[r] = tag;
        requestFirst[r] = (int) (commandTail & (MAX_COMMANDS - 1));
        requestCommands[r] = commands;
        if (flush) {
            int c = (int) (commandTail++ & (MAX_COMMANDS - 1));
            commandOp[c] = ChannelCommand.CONTROL;
            commandCount[c] = 0;
            commandSector[c] = 0;
            commandAddress[c] = 0;
            requestTail++;
            return 0;
        }
        byte command = (byte) (op == BlockCommand.OP_READ ? ChannelCommand.READ : ChannelCommand.WRITE);
        for (int s = 0; s < count; s++) {
            int c = (int) (commandTail++ & (MAX_COMMANDS - 1));
            commandOp[c] = command;
            commandCount[c] = segmentLength[first + s];
            commandSector[c] = sector;
            commandAddress[c] = segmentBus[first + s];
            sector += segmentLength[first + s] >>> 9;
        }
        requestTail++;
        return 0;
    }

    @Override
    public int kick(Cpu cpu) {
        int result = 0;
        while (running == 0 && requestTail > requestHead) {
            int r = startChain(cpu);
            if (r < 0) {
                result = r;
            }
        }
        return result;
    }

    /** Writes the next chain (whole requests, at most 64 commands) and starts it; a refusal fails it. */
    private int startChain(Cpu cpu) {
        int requests = 0;
        int commands = 0;
        while (requestHead + requests < requestTail) {
            int n = requestCommands[(int) ((requestHead + requests) & (MAX_REQUESTS - 1))];
            if (commands + n > ChannelCommand.MAX_CHAIN) {
                break;
            }
            commands += n;
            requests++;
        }
        for (int i = 0; i < commands; i++) {
            int c = (int) ((commandHead + i) & (MAX_COMMANDS - 1));
            long ccw = chainMa + (long) i * ChannelCommand.BYTES;
            memory.putByte(ccw + ChannelCommand.COMMAND, commandOp[c]);
            memory.putByte(ccw + ChannelCommand.FLAGS, (byte) (i + 1 < commands ? ChannelCommand.CC : 0));
            memory.putShort(ccw + ChannelCommand.COUNT, (short) commandCount[c]);
            memory.putInt(ccw + ChannelCommand.SECTOR, (int) commandSector[c]);
            memory.putLong(ccw + ChannelCommand.ADDRESS, commandAddress[c]);
        }
        memory.putLong(chainMa + STATUS_OFFSET, 0);
        memory.putLong(chainMa + STATUS_OFFSET + 8, 0);
        running = requests;
        runningCommands = commands;
        long r = hypervisor.vmexit(cpu, VmExit.START_IO, chainGpa, chainGpa + STATUS_OFFSET);
        if (r < 0) {
            refusedStarts++;
            finishChain(cpu, -1, (int) r, 0);
            return (int) r;
        }
        chains++;
        return 0;
    }

    /** The chain's interrupt: complete its requests from the channel status, then start the next chain. */
    @Override
    public void onInterrupt(Cpu cpu) {
        if (running == 0) {
            spurious++;
        } else {
            int done = memory.getInt(chainMa + STATUS_OFFSET + ChannelCommand.STATUS_DONE);
            int result = memory.getInt(chainMa + STATUS_OFFSET + ChannelCommand.STATUS_RESULT);
            int failedAt = memory.getInt(chainMa + STATUS_OFFSET + ChannelCommand.STATUS_FAILED_AT);
            boolean complete = result == 0 && done == runningCommands;
            boolean stopped = result < 0 && done >= 0 && failedAt >= done && failedAt < runningCommands;
            if (complete || stopped) {
                finishChain(cpu, done, result, failedAt);
            } else {
                // A status no channel would write: believe none of it.
                badStatus++;
                finishChain(cpu, -1, -Errno.EIO, 0);
            }
            kick(cpu);
        }
        kernel.onInterruptDone(cpu);
    }

    /**
     * Ends the running chain: requests wholly inside the first {@code done} commands succeed, the one
     * holding command {@code failedAt} gets {@code result}, the rest are cancelled; {@code done = -1}
     * gives every request {@code result} (the chain never ran, or its status cannot be believed).
     */
    private void finishChain(Cpu cpu, int done, int result, int failedAt) {
        int command = 0;
        for (int i = 0; i < running; i++) {
            int r = (int) (requestHead & (MAX_REQUESTS - 1));
            int n = requestCommands[r];
            int status = done < 0 ? result
                : command + n <= done ? 0
                : result < 0 && failedAt >= command && failedAt < command + n ? result
                : -Errno.ECANCELED;
            requestHead++;
            commandHead += n;
            command += n;
            kernel.onBlockComplete(cpu, requestTag[r], status);
        }
        running = 0;
        runningCommands = 0;
    }

    /** Guest-physical address of the chain's page (the chain from offset 0, the status at {@link #STATUS_OFFSET}). */
    public long chainAddress() {
        return chainGpa;
    }

    public long chains() {
        return chains;
    }

    /** Start-I/Os the hypervisor refused. */
    public long refusedStarts() {
        return refusedStarts;
    }

    /** Channel statuses that could not be true. */
    public long badStatus() {
        return badStatus;
    }

    /** Interrupts with no chain running. */
    public long spurious() {
        return spurious;
    }
}
