package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
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
 */
public final class BlockFront implements BlockDriver {
    private final Hypervisor hv;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final GrantTable grants;
    private final EventPorts events;
    private final BlockCompletions kernel;
    private final GrantMode mode;
    private final int backendId;
    private final FrontRing ring;
    private final int port;
    private final int size;

    // Requests on the ring, by the id the back end echoes.
    private final int[] slotTag;
    private final int[] slotOp;
    private final int[] slotSegments;
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
    private long notifications;
    private long badResponses;
    private long stuckGrants;

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
        this.backendId = backendId;
        Translator view = cpu.view(os.space());
        long ringGpa = os.allocate(1);
        this.ring = new FrontRing(memory, view, ringGpa, BlockProtocol.REQUEST_BYTES, true, 0);
        this.size = ring.size();
        int ringRef = grants.allocate();
        check(grants.grant(ringRef, backendId, ringGpa >>> MachineMemory.PAGE_SHIFT, false), "grant the ring page");
        long p = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, backendId, 0, 0);
        check(p, "allocate an event port");
        this.port = (int) p;
        events.bind(port, (c, unused) -> onInterrupt(c));

        slotTag = new int[size];
        slotOp = new int[size];
        slotSegments = new int[size];
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

        String dir = Store.vbd(os.domain().id());
        store.write(dir + "ring-ref", ringRef);
        store.write(dir + "event-channel", port);
        store.write(dir + "grant-mode", mode.ordinal());
        store.write(dir + "backend", backendId);
    }

    private static void check(long result, String what) {
        if (result < 0) {
            throw new IllegalStateException("block front end cannot " + what + ": " + Errno.name(result));
        }
    }

    @Override
    public int freeSlots() {
        if (broken) {
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
        if (count > BlockProtocol.MAX_SEGMENTS || freeSlotCount == 0) {
            return -Errno.EAGAIN;
        }
        int slot = freeSlots[--freeSlotCount];
        slotBusy[slot] = true;
        slotTag[slot] = tag;
        slotOp[slot] = op;
        slotSegments[slot] = count;
        long req = ring.nextRequest();
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
            int firstSect = (int) (gpa & MachineMemory.PAGE_MASK) >>> 9;
            long seg = req + BlockProtocol.segmentOffset(s);
            memory.putInt(seg + BlockProtocol.SEGMENT_REF, ref);
            memory.putByte(seg + BlockProtocol.SEGMENT_FIRST_SECT, (byte) firstSect);
            memory.putByte(seg + BlockProtocol.SEGMENT_LAST_SECT, (byte) (firstSect + (length >>> 9) - 1));
        }
        memory.putByte(req + BlockProtocol.OPERATION, (byte) op);
        memory.putByte(req + BlockProtocol.NR_SEGMENTS, (byte) count);
        memory.putShort(req + BlockProtocol.HANDLE, (short) 0);
        memory.putLong(req + BlockProtocol.ID, slot);
        memory.putLong(req + BlockProtocol.SECTOR, sector);
        ring.produced();
        pending++;
        return 0;
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
        while (!broken) {
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
