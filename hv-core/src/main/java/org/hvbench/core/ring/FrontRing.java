package org.hvbench.core.ring;

import java.lang.invoke.VarHandle;

import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * The front end's side of a {@link SharedRing}: it produces requests and consumes responses. It
 * reaches the page through its own translation (one TLB lookup per call). Responses come from another
 * domain and are not trusted: {@link #unconsumedResponses} reports a response producer that ran
 * ahead of the requests as {@code -1}, never as work.
 */
public final class FrontRing {
    private final MachineMemory memory;
    private final Translator translator;
    private final long base;
    private final int slotBytes;
    private final int size;
    private int reqProdPvt;
    /** The req_prod this side last published: it alone writes it, so it never reads the shared line to learn it. */
    private int reqProdPublished;
    private int rspCons;

    /**
     * Attaches to the ring page at {@code base}; with {@code initialise} it first writes a fresh
     * header whose indices start at {@code start} (0 normally; near 2^32 in the wrap tests).
     */
    public FrontRing(MachineMemory memory, Translator translator, long base, int slotBytes, boolean initialise, int start) {
        this.memory = memory;
        this.translator = translator;
        this.base = base;
        this.slotBytes = slotBytes;
        this.size = SharedRing.size(slotBytes);
        long page = page(Translation.READ | Translation.WRITE);
        if (initialise) {
            memory.putInt(page + SharedRing.RSP_PROD, start);
            memory.putInt(page + SharedRing.REQ_EVENT, start + 1);
            memory.putInt(page + SharedRing.RSP_EVENT, start + 1);
            memory.putIntRelease(page + SharedRing.REQ_PROD, start);
        }
        this.reqProdPvt = memory.getIntAcquire(page + SharedRing.REQ_PROD);
        this.reqProdPublished = reqProdPvt;
        this.rspCons = memory.getIntAcquire(page + SharedRing.RSP_PROD);
    }

    private long page(int access) {
        long ma = translator.translate(base, access);
        if (ma < 0) {
            throw new IllegalStateException("ring page at 0x" + Long.toHexString(base) + " is not mapped for the front end");
        }
        return ma;
    }

    public int size() {
        return size;
    }

    /** Request slots free: not yet answered requests use the rest. */
    public int freeRequests() {
        return size - (reqProdPvt - rspCons);
    }

    /** The machine address of the next request slot (write it, then {@link #produced}). */
    public long nextRequest() {
        return page(Translation.WRITE) + SharedRing.slotOffset(slotBytes, size, reqProdPvt);
    }

    /** One more request written in its slot, not yet published. */
    public void produced() {
        reqProdPvt++;
    }

    /** Requests written but not yet published. */
    public int unpublished() {
        return reqProdPvt - reqProdPublished;
    }

    /**
     * Publishes the written requests and says whether the back end must be notified:
     * store req_prod (release: the slots are visible first), full fence (the store must be visible
     * before req_event is read, or a back end that set req_event just then is not woken), then
     * notify only if req_event was crossed. The old req_prod is this side's own copy: reading it
     * from the header would fetch the line shared and then upgrade it, two coherence misses where
     * the store alone takes one.
     */
    public boolean pushRequestsAndCheckNotify() {
        long page = page(Translation.READ | Translation.WRITE);
        int old = reqProdPublished;
        int now = reqProdPvt;
        memory.putIntRelease(page + SharedRing.REQ_PROD, now);
        reqProdPublished = now;
        VarHandle.fullFence();
        return SharedRing.crossed(old, now, memory.getIntVolatile(page + SharedRing.REQ_EVENT));
    }

    /**
     * Publishes the written requests without the notification check (Xen's {@code RING_PUSH_REQUESTS}):
     * store req_prod with release order only, no fence. Only for a back end that never sleeps (it polls
     * the ring); one that may sleep must be reached through {@link #pushRequestsAndCheckNotify}.
     */
    public void pushRequests() {
        memory.putIntRelease(page(Translation.WRITE) + SharedRing.REQ_PROD, reqProdPvt);
        reqProdPublished = reqProdPvt;
    }

    /**
     * Responses published and not yet consumed (rsp_prod read once, acquire), or {@code -1} when the
     * back end published more responses than there are requests: a broken or hostile back end.
     */
    public int unconsumedResponses() {
        int available = memory.getIntAcquire(page(Translation.READ) + SharedRing.RSP_PROD) - rspCons;
        return Integer.compareUnsigned(available, reqProdPvt - rspCons) > 0 ? -1 : available;
    }

    /** The machine address of the response {@code ahead} places past the consumer index. */
    public long response(int ahead) {
        return page(Translation.READ) + SharedRing.slotOffset(slotBytes, size, rspCons + ahead);
    }

    public void consumedResponses(int count) {
        rspCons += count;
    }

    /**
     * Before the front end sleeps: asks to be notified of the next response (rsp_event = rsp_cons +
     * 1), full fence (the store must be visible before rsp_prod is read again, or a response pushed
     * just then is missed by both sides), then checks again. True when there is work after all.
     */
    public boolean finalCheckForResponses() {
        if (unconsumedResponses() != 0) {
            return true;
        }
        long page = page(Translation.READ | Translation.WRITE);
        memory.putInt(page + SharedRing.RSP_EVENT, rspCons + 1);
        VarHandle.fullFence();
        return unconsumedResponses() != 0;
    }

    public int requestProducer() {
        return reqProdPvt;
    }

    public int responseConsumer() {
        return rspCons;
    }
}
