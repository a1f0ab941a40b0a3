package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * A guest's TPM driver when its TPM is a vTPM in another domain: Xen's {@code tpmfront}, with the
 * shared page of {@code xen/include/public/io/tpmif.h} (version 2):
 *
 * <pre>
 * struct tpmif_shared_page {     offset
 *     uint32_t length;            0   request, then response, length in bytes
 *     uint8_t  state;             4   enum tpmif_state: IDLE 0, SUBMIT 1, FINISH 2, CANCEL 3
 *     uint8_t  locality;          5   for the current request
 *     uint8_t  pad;               6
 *     uint8_t  nr_extra_pages;    7   grant IDs of further pages; 0 here
 *     uint32_t extra_pages[];     8
 * };                                  the TPM packet follows, at 8 + 4 * nr_extra_pages
 * </pre>
 *
 * (The header's comment draws the grant list at offset 16; the structure, and Linux's
 * {@code xen-tpmfront}, put it at 8, and so does this.) The front end only ever sets SUBMIT or CANCEL,
 * the back end IDLE or FINISH. One command at a time: {@link #submit} writes the packet, publishes
 * SUBMIT with a release store of the state word and sends an event; the back end's event sets
 * {@link #finished}; {@link #response} copies the answer out.
 */
public final class TpmFront {
    public static final int LENGTH = 0;
    public static final int STATE = 4;
    public static final int LOCALITY = 5;
    public static final int PAD = 6;
    public static final int NR_EXTRA_PAGES = 7;
    public static final int EXTRA_PAGES = 8;
    public static final int STATE_IDLE = 0;
    public static final int STATE_SUBMIT = 1;
    public static final int STATE_FINISH = 2;
    public static final int STATE_CANCEL = 3;
    /** The largest packet one page carries (no extra pages). */
    public static final int MAX_PACKET = MachineMemory.PAGE_SIZE - EXTRA_PAGES;

    private final Hypervisor hv;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final EventPorts events;
    private final long pageGpa;
    private final int ref;
    private final int port;
    private boolean waiting;
    private boolean finished;
    private long commands;

    /**
     * Sets up the shared page, granted to {@code backendId}, and an event port that domain may bind;
     * writes both to the store under {@link #directory} for the back end. Runs in the guest's kernel.
     */
    public TpmFront(Cpu cpu, Hypervisor hv, DomainMemory os, GrantTable grants, EventPorts events, Store store, int backendId) {
        this.hv = hv;
        this.os = os;
        this.memory = cpu.memory();
        this.events = events;
        pageGpa = os.allocate(1);
        ref = grants.allocate();
        long granted = ref < 0 ? ref : grants.grant(ref, backendId, pageGpa >>> MachineMemory.PAGE_SHIFT, false);
        if (granted < 0) {
            throw new IllegalStateException("tpmfront: cannot grant the shared page: " + Errno.name(granted));
        }
        long p = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, backendId, 0, 0);
        if (p < 0) {
            throw new IllegalStateException("tpmfront: cannot allocate an event port: " + Errno.name(p));
        }
        port = (int) p;
        events.bind(port, (c, q) -> onEvent());
        String dir = directory(os.domain().id());
        store.write(dir + "ring-ref", ref);
        store.write(dir + "event-channel", port);
        store.write(dir + Store.BACKEND, backendId);
    }

    /** The store directory of a guest's vTPM device. */
    public static String directory(int frontDomain) {
        return "device/vtpm/" + frontDomain + "/";
    }

    private long page(Cpu cpu) {
        return cpu.translate(os.space(), pageGpa, Translation.READ | Translation.WRITE);
    }

    /**
     * Sends the TPM command {@code command[0, length)} at {@code locality} to the vTPM: 0, or
     * {@code -EBUSY} while a command is waiting, {@code -E2BIG} for a packet larger than the page
     * carries, {@code -EINVAL} for a locality outside 0 to 4. Runs in the guest's kernel.
     */
    public long submit(Cpu cpu, byte[] command, int length, int locality) {
        if (waiting) {
            return -Errno.EBUSY;
        }
        if (length < 0 || length > MAX_PACKET) {
            return -Errno.E2BIG;
        }
        if (locality < 0 || locality > 4) {
            return -Errno.EINVAL;
        }
        long ma = page(cpu);
        memory.putBytes(ma + EXTRA_PAGES, command, 0, length);
        memory.putInt(ma + LENGTH, length);
        waiting = true;
        finished = false;
        commands++;
        // Release: the packet and its length are visible before the back end can see SUBMIT.
        memory.putIntRelease(ma + STATE, STATE_SUBMIT | locality << 8);
        long r = events.send(cpu, port);
        if (r < 0) {
            waiting = false;
            return r;
        }
        return 0;
    }

    private void onEvent() {
        if (waiting) {
            finished = true;
        }
    }

    /** Has the back end answered the waiting command (its event came)? */
    public boolean finished() {
        return finished;
    }

    /**
     * Copies the answer into {@code response} and returns its length; {@code -EAGAIN} before the back
     * end has finished, {@code -EIO} when the page holds no valid answer (a length past the page).
     */
    public long response(Cpu cpu, byte[] response) {
        if (!finished) {
            return -Errno.EAGAIN;
        }
        long ma = page(cpu);
        // Acquire: the answer written before FINISH is seen whole.
        int state = memory.getIntAcquire(ma + STATE) & 0xFF;
        if (state != STATE_FINISH) {
            return -Errno.EAGAIN;
        }
        waiting = false;
        finished = false;
        int length = memory.getInt(ma + LENGTH);
        if (length < 0 || length > MAX_PACKET || length > response.length) {
            return -Errno.EIO;
        }
        memory.getBytes(ma + EXTRA_PAGES, response, 0, length);
        return length;
    }

    /** The shared page's address in the guest. */
    public long pageGpa() {
        return pageGpa;
    }

    public int port() {
        return port;
    }

    public int ref() {
        return ref;
    }

    public long commands() {
        return commands;
    }

    Hypervisor hypervisor() {
        return hv;
    }
}
