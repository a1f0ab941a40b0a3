package org.hvbench.core.evtchn;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.MmioHandler;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/**
 * The hypervisor's side of a device emulator in another domain (Xen's ioreq server): a guest's
 * trapped register write becomes an I/O request in a page the hypervisor shares with the emulator's
 * domain, and an event on a port that only the hypervisor raises. The guest's vCPU waits in the
 * hypervisor until the emulator has marked the request done; on this uniprocessor the emulator's
 * domain runs at once, inside the delivery. When the emulator's domain has a CPU of its own (threaded
 * executor), the guest's vCPU waits on its CPU's {@link org.hvbench.core.cpu.Sleeper}, bounded by
 * {@link #ANSWER_TIMEOUT_NANOS}, until the emulator answers ({@link #answered}, Xen's notify on the
 * ioreq port); an emulator that does not answer in time gets the request refused with
 * {@code -ETIMEDOUT}, and the guest's vCPU goes on.
 *
 * <pre>
 * I/O request page:
 * | offset | size | field                                              |
 * |--------|------|----------------------------------------------------|
 * | 0      | 4    | state: 0 none, 1 ready (hypervisor, release), 2 done (emulator, release) |
 * | 4      | 4    | register written                                   |
 * | 8      | 8    | value written                                      |
 * | 16     | 8    | result: 0 or a negative errno (emulator)           |
 * </pre>
 */
public final class IoRequestForwarder implements MmioHandler {
    public static final int STATE = 0;
    public static final int REGISTER = 4;
    public static final int VALUE = 8;
    public static final int RESULT = 16;
    public static final int NONE = 0;
    public static final int READY = 1;
    public static final int DONE = 2;
    /** How long a guest's vCPU waits for an emulator on another CPU. */
    public static final long ANSWER_TIMEOUT_NANOS = 10_000_000_000L;

    private final EventChannels channels;
    private final Domain emulatorDomain;
    private final MachineMemory memory;
    private final long pageMa;
    private final long pageGpa;
    private final int port;
    private final Domain guest;
    private final Hypervisor hv;
    private final java.util.function.BooleanSupplier answeredCheck;
    private boolean closed;
    private long forwarded;
    private long unanswered;

    /**
     * Forwards {@code guest}'s trapped register writes to an emulator in {@code emulatorDomain}; the
     * request page is mapped into that domain's window at {@code windowGpa}.
     */
    public IoRequestForwarder(Hypervisor hv, EventChannels channels, Domain emulatorDomain, long windowGpa, Domain guest) {
        this.hv = hv;
        this.channels = channels;
        this.emulatorDomain = emulatorDomain;
        this.memory = hv.machine().memory();
        long mfn = hv.machine().frames().allocate(FrameAllocator.OWNER_HYPERVISOR);
        if (mfn < 0 || !emulatorDomain.inWindow(windowGpa)) {
            throw new IllegalStateException("cannot set up the I/O request page for " + guest);
        }
        this.pageMa = mfn << MachineMemory.PAGE_SHIFT;
        this.pageGpa = windowGpa;
        int r = emulatorDomain.space().table().map(windowGpa, pageMa, PageTable.SHIFT_4K, Translation.READ | Translation.WRITE);
        if (r < 0) {
            throw new IllegalStateException("cannot map the I/O request page into " + emulatorDomain + ": " + Errno.name(r));
        }
        this.port = channels.bindHypervisorEvent(emulatorDomain);
        this.guest = guest;
        this.answeredCheck = () -> memory.getIntAcquire(pageMa + STATE) == DONE;
        guest.setMmioHandler(this);
    }

    @Override
    public long mmioWrite(Cpu cpu, Domain domain, int register, long value) {
        forwarded++;
        memory.putInt(pageMa + REGISTER, register);
        memory.putLong(pageMa + VALUE, value);
        memory.putLong(pageMa + RESULT, 0);
        memory.putIntRelease(pageMa + STATE, READY);
        channels.deliver(cpu, emulatorDomain, port, "the hypervisor passes the trapped I/O request to the partition kernel");
        Cpu emulatorCpu = emulatorDomain.vcpu();
        boolean remote = emulatorCpu != null && emulatorCpu != cpu;
        if (remote ? !cpu.sleeper().await(answeredCheck, ANSWER_TIMEOUT_NANOS) : !answeredCheck.getAsBoolean()) {
            unanswered++;
            memory.putIntRelease(pageMa + STATE, NONE);
            return remote ? -Errno.ETIMEDOUT : -Errno.EBUSY;
        }
        long result = memory.getLong(pageMa + RESULT);
        memory.putIntRelease(pageMa + STATE, NONE);
        return result;
    }

    /**
     * The emulator marked the request done: wakes the guest's vCPU if it waits on another CPU (stands
     * for the emulator's event on the ioreq port, which Xen turns into waking the blocked vCPU).
     */
    public void answered() {
        Cpu waiting = guest.vcpu();
        if (waiting != null) {
            waiting.sleeper().wake();
        }
    }

    /**
     * The guest is destroyed and its emulator let go (its port closed): the request page leaves the
     * emulator domain's window (its TLB entries flushed) and its frame is freed. Tear-down, while no
     * other party runs.
     */
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!emulatorDomain.destroyed()) {
            emulatorDomain.space().table().unmap(pageGpa);
            hv.flushTlbs(emulatorDomain, pageGpa);
        }
        memory.setMemory(pageMa, MachineMemory.PAGE_SIZE, (byte) 0);
        int r = hv.machine().frames().free(pageMa >>> MachineMemory.PAGE_SHIFT, FrameAllocator.OWNER_HYPERVISOR);
        if (r < 0) {
            throw new IllegalStateException("the I/O request page of " + guest + " was not the hypervisor's: " + Errno.name(r));
        }
    }

    /** Where the emulator's domain sees the request page. */
    public long pageGpa() {
        return pageGpa;
    }

    /** The emulator domain's port for I/O requests. */
    public int port() {
        return port;
    }

    public long forwarded() {
        return forwarded;
    }

    /** Requests the emulator had not answered when the delivery returned. */
    public long unanswered() {
        return unanswered;
    }
}
