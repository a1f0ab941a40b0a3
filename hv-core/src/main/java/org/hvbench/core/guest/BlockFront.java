package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;
import org.hvbench.core.ring.FrontRing;

/**
 * A guest kernel's split block driver, the front end (Xen's blkfront): block requests go on a ring
 * shared with a back end in another domain, with the guest's pages reached by grant; one event per
 * batch wakes the back end, and only when it asked for one (notification suppression).
 *
 * <p>Connection: the front end initialises the ring page, grants it to the back end's domain,
 * allocates an event port the back end may bind, and writes both in the {@link Store}; the back end
 * connects from there.
 *
 * <p>Per {@link GrantMode}: MAP and COPY grant each of the app's pages to the back end for the
 * request and revoke the grant when the response arrives (a grant still in use is kept and retried,
 * never reused); PERSISTENT grants a pool of pages once at connection, copies write data into a pool
 * page and read data out of it, so the back end maps each pool page only once.
 *
 * <p>Responses come from another domain and are checked: a response producer beyond the requests
 * stops the ring, an unknown id or an id answered twice is dropped.
 *
 * <p>Reconnection (Xen's {@code blkback_changed}, {@code blkfront_connect}, {@code blkif_recover}):
 * each request on the ring keeps its slot, the shadow, until its response is taken. When the
 * toolstack says the back end is gone ({@link #backendChanged}), the responses it had published are
 * taken, and the rest stay in their slots; while no back end serves, the front end has no free slots,
 * so the kernel tells the app {@code -EAGAIN}. When a new back end waits, the ring page is zeroed and
 * set up afresh under a new grant, with a new event port, and the pages of the pool and of the waiting
 * requests are granted to the new domain; when it has connected, every waiting request goes on the
 * new ring once. A response on the old ring is never read after the close.
 */
public final class BlockFront implements BlockDriver {
    private final Hypervisor hv;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final GrantTable grants;
    private final EventPorts events;
    private final BlockCompletions kernel;
    private final GrantMode mode;
    private final Store store;
    private final String dir;
    private final Translator view;
    private final EventDispatcher.PortHandler portHandler;
    private final int size;
    // The connection: replaced when the back end is replaced.
    private int backendId;
    private long ringGpa;
    private int ringRef;
    private FrontRing ring;
    private int port;
    /** This front end's Xenbus state: CONNECTED, CLOSED (no back end), INITIALISED (a new ring waits for one). */
    private int state = Store.CONNECTED;

    // Requests on the ring, by the id the back end echoes.
    private final int[] slotTag;
    private final int[] slotOp;
    private final int[] slotSegments;
    private final long[] slotSector;
    private final int[][] slotRef;
    private final long[][] slotGpa;
    private final int[][] slotLength;
    private final int[][] slotPoolPage;
    private final boolean[] slotBusy;
    private final int[] freeSlots;
    private int freeSlotCount;

    // PERSISTENT: pages granted once.
    private final long[] poolGpa;
    private final int[] poolRef;
    private final int[] freePool;
    private int freePoolCount;

    private final int[] stuckRefs;
    private int stuckCount;
    private int pending;
    private boolean broken;
    /** The toolstack took the device away (its store directory is gone): no back end will come. */
    private boolean detached;
    private long notifications;
    private long badResponses;
    private long stuckGrants;
    private long reconnections;
    private long reissued;
    private long answeredAtClose;
    private long failedAtDetach;

    /**
     * Builds the front end of {@code os}'s domain for a back end in domain {@code backendId} and
     * writes the connection details in {@code store}. Runs in the guest kernel (set-up).
     */
    public BlockFront(Cpu cpu, Hypervisor hv, DomainMemory os, GrantTable grants, EventPorts events, Store store,
                      int backendId, GrantMode mode, BlockCompletions kernel) {
        this.hv = hv;
        this.os = os;
        this.memory = os.memory();
        this.grants = grants;
        this.events = events;
        this.kernel = kernel;
        this.mode = mode;
        this.store = store;
        this.dir = Store.vbd(os.domain().id());
        this.backendId = backendId;
        this.view = cpu.view(os.space());
        this.portHandler = (c, unused) -> onInterrupt(c);
        this.ringGpa = os.allocate(1);
        openRing(cpu);
        this.size = ring.size();

        slotTag = new int[size];
        slotOp = new int[size];
        slotSegments = new int[size];
        slotSector = new long[size];
        slotRef = new int[size][BlockProtocol.MAX_SEGMENTS];
        slotGpa = new long[size][BlockProtocol.MAX_SEGMENTS];
        slotLength = new int[size][BlockProtocol.MAX_SEGMENTS];
        slotPoolPage = new int[size][BlockProtocol.MAX_SEGMENTS];
        slotBusy = new boolean[size];
        freeSlots = new int[size];
        for (int i = size - 1; i >= 0; i--) {
            freeSlots[freeSlotCount++] = i;
        }
        stuckRefs = new int[grants.entries()];

        int pool = mode == GrantMode.PERSISTENT ? size * BlockProtocol.MAX_SEGMENTS : 0;
        poolGpa = new long[pool];
        poolRef = new int[pool];
        freePool = new int[pool];
        for (int i = 0; i < pool; i++) {
            poolGpa[i] = os.allocate(1);
            poolRef[i] = grants.allocate();
            check(grants.grant(poolRef[i], backendId, poolGpa[i] >>> MachineMemory.PAGE_SHIFT, false), "grant a pool page");
            freePool[freePoolCount++] = pool - 1 - i;
        }

        store.write(dir + Store.BACKEND, backendId);
    }

    /**
     * A fresh ring in the ring page, granted to the back end's domain, and an event port that domain
     * may bind; both written in the store for the back end to connect from.
     */
    private void openRing(Cpu cpu) {
        ring = new FrontRing(memory, view, ringGpa, BlockProtocol.REQUEST_BYTES, true, 0);
        ringRef = grants.allocate();
        check(ringRef, "find a grant reference for the ring");
        check(grants.grant(ringRef, backendId, ringGpa >>> MachineMemory.PAGE_SHIFT, false), "grant the ring page");
        long p = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, backendId, 0, 0);
        check(p, "allocate an event port");
        port = (int) p;
        events.bind(port, portHandler);
        store.write(dir + "ring-ref", ringRef);
        store.write(dir + "event-channel", port);
        store.write(dir + "grant-mode", mode.ordinal());
    }

    private static void check(long result, String what) {
        if (result < 0) {
            throw new IllegalStateException("block front end cannot " + what + ": " + Errno.name(result));
        }
    }

    @Override
    public int freeSlots() {
        if (detached) {
            // Room for anything: each request ends at once with -ENODEV (queue), not waiting for room.
            return size;
        }
        if (broken || state != Store.CONNECTED) {
            return 0;
        }
        // freeRequests() already counts the requests written but not yet published.
        int free = Math.min(ring.freeRequests(), freeSlotCount);
        int perRequest = BlockProtocol.MAX_SEGMENTS;
        int byPages = mode == GrantMode.PERSISTENT ? freePoolCount / perRequest : grants.freeReferences() / perRequest;
        return Math.max(0, Math.min(free, byPages));
    }

    @Override
    public int queue(Cpu cpu, int op, long sector, int tag, long[] segmentBus, int[] segmentLength, int first, int count) {
        if (broken) {
            return -Errno.EIO;
        }
        if (detached) {
            return -Errno.ENODEV;
        }
        if (count > BlockProtocol.MAX_SEGMENTS || freeSlotCount == 0 || state != Store.CONNECTED) {
            return -Errno.EAGAIN;
        }
        int slot = freeSlots[--freeSlotCount];
        slotBusy[slot] = true;
        slotTag[slot] = tag;
        slotOp[slot] = op;
        slotSegments[slot] = count;
        slotSector[slot] = sector;
        for (int s = 0; s < count; s++) {
            long gpa = segmentBus[first + s];
            int length = segmentLength[first + s];
            slotGpa[slot][s] = gpa;
            slotLength[slot][s] = length;
            int ref;
            if (mode == GrantMode.PERSISTENT) {
                int page = freePool[--freePoolCount];
                slotPoolPage[slot][s] = page;
                ref = poolRef[page];
                if (op == BlockProtocol.OP_WRITE) {
                    cpu.copy(os.space(), gpa, os.space(), poolGpa[page] + (gpa & MachineMemory.PAGE_MASK), length);
                }
            } else {
                ref = grants.allocate();
                grants.grant(ref, backendId, gpa >>> MachineMemory.PAGE_SHIFT, op == BlockProtocol.OP_WRITE);
            }
            slotRef[slot][s] = ref;
        }
        writeRequest(ring.nextRequest(), slot);
        ring.produced();
        pending++;
        return 0;
    }

    /** Writes the request in {@code slot}'s shadow into the ring slot at {@code req}; its id is the slot. */
    private void writeRequest(long req, int slot) {
        int count = slotSegments[slot];
        for (int s = 0; s < count; s++) {
            int firstSect = (int) (slotGpa[slot][s] & MachineMemory.PAGE_MASK) >>> 9;
            long seg = req + BlockProtocol.segmentOffset(s);
            memory.putInt(seg + BlockProtocol.SEGMENT_REF, slotRef[slot][s]);
            memory.putByte(seg + BlockProtocol.SEGMENT_FIRST_SECT, (byte) firstSect);
            memory.putByte(seg + BlockProtocol.SEGMENT_LAST_SECT, (byte) (firstSect + (slotLength[slot][s] >>> 9) - 1));
        }
        memory.putByte(req + BlockProtocol.OPERATION, (byte) slotOp[slot]);
        memory.putByte(req + BlockProtocol.NR_SEGMENTS, (byte) count);
        memory.putShort(req + BlockProtocol.HANDLE, (short) 0);
        memory.putLong(req + BlockProtocol.ID, slot);
        memory.putLong(req + BlockProtocol.SECTOR, slotSector[slot]);
    }

    /** Publishes the batch; an event only if the back end asked for one. */
    @Override
    public int kick(Cpu cpu) {
        if (pending == 0) {
            return 0;
        }
        pending = 0;
        if (ring.pushRequestsAndCheckNotify()) {
            notifications++;
            long r = events.send(cpu, port);
            return r < 0 ? (int) r : 0;
        }
        return 0;
    }

    /** The event upcall: take every response, checked, then ask for the next event and look once more. */
    @Override
    public void onInterrupt(Cpu cpu) {
        retryStuckGrants();
        while (!broken && state == Store.CONNECTED) {
            int n = ring.unconsumedResponses();
            if (n < 0) {
                broken = true;
                badResponses++;
                break;
            }
            for (int i = 0; i < n; i++) {
                long rsp = ring.response(i);
                long id = memory.getLong(rsp + BlockProtocol.RESPONSE_ID);
                int status = memory.getShort(rsp + BlockProtocol.RESPONSE_STATUS);
                if (id < 0 || id >= size || !slotBusy[(int) id]) {
                    badResponses++;
                    continue;
                }
                finish(cpu, (int) id, status > 0 ? -Errno.EIO : status);
            }
            ring.consumedResponses(n);
            if (!ring.finalCheckForResponses()) {
                break;
            }
        }
        kernel.onInterruptDone(cpu);
    }

    private void finish(Cpu cpu, int slot, int status) {
        int count = slotSegments[slot];
        for (int s = 0; s < count; s++) {
            if (mode == GrantMode.PERSISTENT) {
                int page = slotPoolPage[slot][s];
                if (slotOp[slot] == BlockProtocol.OP_READ && status == 0) {
                    long gpa = slotGpa[slot][s];
                    cpu.copy(os.space(), poolGpa[page] + (gpa & MachineMemory.PAGE_MASK), os.space(), gpa, slotLength[slot][s]);
                }
                freePool[freePoolCount++] = page;
            } else {
                revokeOrKeep(slotRef[slot][s]);
            }
        }
        slotBusy[slot] = false;
        freeSlots[freeSlotCount++] = slot;
        kernel.onBlockComplete(cpu, slotTag[slot], status);
    }

    /** A grant the back end still uses is not reused: it waits on the stuck list. */
    private void revokeOrKeep(int ref) {
        if (grants.revoke(ref) == 0) {
            grants.release(ref);
        } else {
            stuckRefs[stuckCount++] = ref;
            stuckGrants++;
        }
    }

    private void retryStuckGrants() {
        for (int i = stuckCount - 1; i >= 0; i--) {
            if (grants.revoke(stuckRefs[i]) == 0) {
                grants.release(stuckRefs[i]);
                stuckRefs[i] = stuckRefs[--stuckCount];
            }
        }
    }

    // Reconnection ------------------------------------------------------------------------------

    /**
     * The toolstack changed the back end's state in the store (Xen's {@code blkback_changed}, run by
     * the guest's watch on it). Runs in the guest kernel; the CPU may be back with the app afterwards
     * (completions taken at a close are signalled to it).
     *
     * <ul>
     * <li>{@link Store#CLOSED} (the back end's domain is gone): the event port is closed and the ring's
     * grant revoked; the responses the back end published are taken, so those requests complete and
     * are not sent again; every other request stays in its slot.
     * <li>{@link Store#INIT_WAIT} (a new back end in domain {@link Store#BACKEND} waits): a fresh ring
     * in the zeroed ring page under a new grant, a new event port (unmasked, as Linux unmasks a port it
     * binds), and the pool's and the waiting requests' pages granted to the new domain.
     * <li>{@link Store#CONNECTED}: every waiting request goes on the new ring, once, in slot order
     * (Xen's {@code blkif_recover}), and the back end is notified.
     * <li>no {@link Store#BACKEND} at all (the toolstack removed the directory: the device was taken
     * away): closed as above, and then detached for good ({@link #detach}).
     * </ul>
     */
    public void backendChanged(Cpu cpu) {
        long backend = store.contains(dir + Store.BACKEND_STATE) ? store.read(dir + Store.BACKEND_STATE) : Store.CLOSED;
        if (backend == Store.CLOSED && state != Store.CLOSED) {
            close(cpu);
        } else if (backend == Store.INIT_WAIT && state == Store.CLOSED) {
            reopen(cpu, (int) store.read(dir + Store.BACKEND));
        } else if (backend == Store.CONNECTED && state == Store.INITIALISED) {
            recover(cpu);
        }
        if (!detached && !store.contains(dir + Store.BACKEND)) {
            detach(cpu);
        }
    }

    /**
     * The device is gone for good (the toolstack removed it, as when access to it is revoked): every
     * request still waiting ends with {@code -EIO}, once, and every new one gets {@code -ENODEV}
     * (Linux's blkfront ends a removed disk's requests with an I/O error). A page the old back end
     * still maps keeps its grant on the stuck list.
     */
    private void detach(Cpu cpu) {
        detached = true;
        for (int slot = 0; slot < size; slot++) {
            if (slotBusy[slot]) {
                finish(cpu, slot, -Errno.EIO);
                failedAtDetach++;
            }
        }
        kernel.onInterruptDone(cpu);
    }

    /** Has the toolstack taken the device away? */
    public boolean detached() {
        return detached;
    }

    /** Requests that ended with {@code -EIO} because the device was taken away. */
    public long failedAtDetach() {
        return failedAtDetach;
    }

    private void close(Cpu cpu) {
        hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_CLOSE, port, 0, 0);
        if (grants.revoke(ringRef) == 0) {
            grants.release(ringRef);
        } else {
            // The old back end still maps the ring page: the next ring goes in another page.
            stuckRefs[stuckCount++] = ringRef;
            stuckGrants++;
            ringGpa = os.allocate(1);
        }
        if (state == Store.CONNECTED) {
            // Last, because the kernel may signal the app: requests answered before the back end went.
            int waiting = size - freeSlotCount;
            onInterrupt(cpu);
            answeredAtClose += waiting - (size - freeSlotCount);
        }
        state = Store.CLOSED;
        pending = 0;
    }

    private void reopen(Cpu cpu, int backend) {
        backendId = backend;
        memory.zeroFrame(view.translate(ringGpa, Translation.WRITE) >>> MachineMemory.PAGE_SHIFT);
        openRing(cpu);
        events.unmask(cpu, port);
        for (int i = 0; i < poolRef.length; i++) {
            poolRef[i] = regrant(poolRef[i], poolGpa[i], false);
        }
        if (mode != GrantMode.PERSISTENT) {
            for (int slot = 0; slot < size; slot++) {
                for (int s = 0; slotBusy[slot] && s < slotSegments[slot]; s++) {
                    slotRef[slot][s] = regrant(slotRef[slot][s], slotGpa[slot][s], slotOp[slot] == BlockProtocol.OP_WRITE);
                }
            }
        }
        retryStuckGrants();
        state = Store.INITIALISED;
    }

    /**
     * Grants the page at {@code gpa} to the new back end: under the same reference when the old
     * grant could be revoked, else under a fresh one while the old waits on the stuck list.
     */
    private int regrant(int ref, long gpa, boolean readonly) {
        int r = ref;
        if (grants.revoke(ref) != 0) {
            stuckRefs[stuckCount++] = ref;
            stuckGrants++;
            r = grants.allocate();
            check(r, "find a grant reference for the new back end");
        }
        grants.grant(r, backendId, gpa >>> MachineMemory.PAGE_SHIFT, readonly);
        return r;
    }

    private void recover(Cpu cpu) {
        state = Store.CONNECTED;
        reconnections++;
        for (int slot = 0; slot < size; slot++) {
            if (slotBusy[slot]) {
                writeRequest(ring.nextRequest(), slot);
                ring.produced();
                pending++;
                reissued++;
            }
        }
        kick(cpu);
    }

    /** Times a new back end was connected to. */
    public long reconnections() {
        return reconnections;
    }

    /** Requests put on a new ring because their back end went before answering them. */
    public long reissued() {
        return reissued;
    }

    /** Requests whose response was taken from the old ring when its back end had gone. */
    public long answeredAtClose() {
        return answeredAtClose;
    }

    /** The Xenbus state: {@link Store#CONNECTED}, {@link Store#CLOSED} or {@link Store#INITIALISED}. */
    public int state() {
        return state;
    }

    /** The domain of the back end this front end talks to. */
    public int backendId() {
        return backendId;
    }

    public int port() {
        return port;
    }

    /** Events sent to the back end. */
    public long notifications() {
        return notifications;
    }

    public long badResponses() {
        return badResponses;
    }

    /** Grants whose revocation failed because the back end still had them in use. */
    public long stuckGrants() {
        return stuckGrants;
    }

    public int stuckNow() {
        return stuckCount;
    }

    public boolean broken() {
        return broken;
    }

    public FrontRing ring() {
        return ring;
    }
}
