package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.HypervisorBlockDriver;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.MemoryQueue;
import org.hvbench.core.mem.QueueConsumer;
import org.hvbench.core.mem.Translation;

/**
 * A paravirtual block driver: it knows it runs on a hypervisor and asks it for I/O by hypercall.
 * Requests are Xen block requests ({@link BlockProtocol}) whose segments name guest frames; up to
 * {@value HypervisorBlockDriver#MAX_BATCH} go in one {@code BLOCK_IO/BLOCK_SUBMIT} hypercall (a full
 * batch page is submitted on the spot). Responses arrive in a queue page registered at set-up,
 * followed by a virtual interrupt; each is checked before it is believed.
 */
public final class HypercallDriver implements BlockDriver {
    public static final int RESPONSE_ENTRIES = 128;

    private final Hypervisor hypervisor;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final BlockCompletions kernel;
    private final long requestsVa;
    private final QueueConsumer responses;
    private final int[] pendingTags = new int[HypervisorBlockDriver.MAX_BATCH];
    private int pending;
    private int outstanding;
    private long badResponses;

    /** Allocates the request page and the response queue and registers the queue by hypercall. */
    public HypercallDriver(Cpu cpu, Hypervisor hypervisor, DomainMemory os, BlockCompletions kernel) {
        this.hypervisor = hypervisor;
        this.os = os;
        this.memory = os.memory();
        this.kernel = kernel;
        this.requestsVa = os.allocate(1);
        long responsesVa = os.allocate(MemoryQueue.pages(BlockProtocol.RESPONSE_BYTES, RESPONSE_ENTRIES));
        long r = hypervisor.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SETUP, responsesVa, RESPONSE_ENTRIES, 0);
        if (r < 0) {
            throw new IllegalStateException("the hypervisor refused the block connection of " + os.domain() + ": " + Errno.name(r));
        }
        this.responses = new QueueConsumer(memory, cpu.view(os.space()), responsesVa, BlockProtocol.RESPONSE_BYTES, RESPONSE_ENTRIES);
    }

    @Override
    public int freeSlots() {
        return RESPONSE_ENTRIES - outstanding - pending;
    }

    @Override
    public int queue(Cpu cpu, int op, long sector, int tag, long[] segmentBus, int[] segmentLength, int first, int count) {
        if (count > BlockProtocol.MAX_SEGMENTS || freeSlots() <= 0) {
            return -Errno.EAGAIN;
        }
        if (pending == HypervisorBlockDriver.MAX_BATCH) {
            int r = kick(cpu);
            if (r < 0) {
                return r;
            }
        }
        long req = cpu.translate(os.space(), requestsVa + (long) pending * BlockProtocol.REQUEST_BYTES, Translation.WRITE);
        if (req < 0) {
            return (int) req;
        }
        memory.putByte(req + BlockProtocol.OPERATION, (byte) op);
        memory.putByte(req + BlockProtocol.NR_SEGMENTS, (byte) count);
        memory.putShort(req + BlockProtocol.HANDLE, (short) 0);
        memory.putLong(req + BlockProtocol.ID, tag);
        memory.putLong(req + BlockProtocol.SECTOR, sector);
        for (int s = 0; s < count; s++) {
            long gpa = segmentBus[first + s];
            int firstSect = (int) (gpa & MachineMemory.PAGE_MASK) >>> 9;
            int lastSect = firstSect + (segmentLength[first + s] >>> 9) - 1;
            long seg = req + BlockProtocol.segmentOffset(s);
            memory.putInt(seg + BlockProtocol.SEGMENT_REF, (int) (gpa >>> MachineMemory.PAGE_SHIFT));
            memory.putByte(seg + BlockProtocol.SEGMENT_FIRST_SECT, (byte) firstSect);
            memory.putByte(seg + BlockProtocol.SEGMENT_LAST_SECT, (byte) lastSect);
        }
        pendingTags[pending++] = tag;
        return 0;
    }

    @Override
    public int kick(Cpu cpu) {
        if (pending == 0) {
            return 0;
        }
        int n = pending;
        pending = 0;
        long r = hypervisor.hypercall(cpu, Hypercall.BLOCK_IO, Hypercall.BLOCK_SUBMIT, requestsVa, n, 0);
        if (r < 0) {
            for (int i = 0; i < n; i++) {
                kernel.onBlockComplete(cpu, pendingTags[i], (int) r);
            }
            return (int) r;
        }
        outstanding += n;
        return 0;
    }

    @Override
    public void onInterrupt(Cpu cpu) {
        long n = responses.available();
        if (n < 0 || n > RESPONSE_ENTRIES) {
            badResponses++;
            kernel.onInterruptDone(cpu);
            return;
        }
        for (int i = 0; i < n; i++) {
            long slot = responses.slot(i);
            if (slot < 0) {
                badResponses++;
                continue;
            }
            if (outstanding == 0) {
                badResponses++;
                continue;
            }
            outstanding--;
            long id = memory.getLong(slot + BlockProtocol.RESPONSE_ID);
            int status = memory.getShort(slot + BlockProtocol.RESPONSE_STATUS);
            if (id < 0 || id > Integer.MAX_VALUE) {
                badResponses++;
                continue;
            }
            kernel.onBlockComplete(cpu, (int) id, status);
        }
        responses.consume((int) n);
        kernel.onInterruptDone(cpu);
    }

    public long badResponses() {
        return badResponses;
    }
}
