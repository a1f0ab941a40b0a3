package org.hvbench.core.ring;

import java.lang.invoke.VarHandle;

import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.mem.Translator;

/**
 * The back end's side of a {@link SharedRing}: it consumes requests and produces responses. The
 * front end is not trusted: {@link #unconsumedRequests} reads req_prod once and reports a producer
 * more than the ring's size ahead of the responses as {@code -1} (stop the ring, never spin on it),
 * and the caller must copy each request out of its slot once and use only the copy.
 */
public final class BackRing {
    private final MachineMemory memory;
    private final Translator translator;
    private final long base;
    private final int slotBytes;
    private final int size;
    private int reqCons;
    private int rspProdPvt;
    /** The rsp_prod this side last published (it alone writes it; see FrontRing's reqProdPublished). */
    private int rspProdPublished;

    /** Attaches to a ring the front end initialised, taking up its indices. */
    public BackRing(MachineMemory memory, Translator translator, long base, int slotBytes) {
        this.memory = memory;
        this.translator = translator;
        this.base = base;
        this.slotBytes = slotBytes;
        this.size = SharedRing.size(slotBytes);
        long page = page(Translation.READ);
        this.rspProdPvt = memory.getIntAcquire(page + SharedRing.RSP_PROD);
        this.rspProdPublished = rspProdPvt;
        this.reqCons = rspProdPvt;
    }

    private long page(int access) {
        long ma = translator.translate(base, access);
        if (ma < 0) {
            throw new IllegalStateException("ring page at 0x" + Long.toHexString(base) + " is not mapped for the back end");
        }
        return ma;
    }

    public int size() {
        return size;
    }

    /**
     * Requests published and not yet consumed: req_prod read once (acquire). {@code -1} when the
     * producer is more than the ring's size ahead of the responses produced: the ring is broken.
     */
    public int unconsumedRequests() {
        int prod = memory.getIntAcquire(page(Translation.READ) + SharedRing.REQ_PROD);
        if (Integer.compareUnsigned(prod - rspProdPvt, size) > 0) {
            return -1;
        }
        return prod - reqCons;
    }

    /** The machine address of the request {@code ahead} places past the consumer index. */
    public long request(int ahead) {
        return page(Translation.READ) + SharedRing.slotOffset(slotBytes, size, reqCons + ahead);
    }

    public void consumedRequests(int count) {
        reqCons += count;
    }

    /** The machine address of the next response slot (write it, then {@link #produced}). */
    public long nextResponse() {
        return page(Translation.WRITE) + SharedRing.slotOffset(slotBytes, size, rspProdPvt);
    }

    public void produced() {
        rspProdPvt++;
    }

    /**
     * Publishes the responses and says whether to notify: release store, full fence, event check;
     * the old rsp_prod is this side's own copy, not a read of the shared line.
     */
    public boolean pushResponsesAndCheckNotify() {
        long page = page(Translation.READ | Translation.WRITE);
        int old = rspProdPublished;
        int now = rspProdPvt;
        memory.putIntRelease(page + SharedRing.RSP_PROD, now);
        rspProdPublished = now;
        VarHandle.fullFence();
        return SharedRing.crossed(old, now, memory.getIntVolatile(page + SharedRing.RSP_EVENT));
    }

    /**
     * Publishes the responses with release order only, no fence and no check (Xen's
     * {@code RING_PUSH_RESPONSES}): only for a front end that polls and never sleeps.
     */
    public void pushResponses() {
        memory.putIntRelease(page(Translation.WRITE) + SharedRing.RSP_PROD, rspProdPvt);
        rspProdPublished = rspProdPvt;
    }

    /**
     * Before the back end sleeps: req_event = req_cons + 1, full fence, look again. True when a
     * request arrived in between (then keep working instead of sleeping).
     */
    public boolean finalCheckForRequests() {
        int work = unconsumedRequests();
        if (work != 0) {
            return true;
        }
        long page = page(Translation.READ | Translation.WRITE);
        memory.putInt(page + SharedRing.REQ_EVENT, reqCons + 1);
        VarHandle.fullFence();
        return unconsumedRequests() != 0;
    }

    /** Requests taken but not answered. */
    public int outstanding() {
        return reqCons - rspProdPvt;
    }

    public int requestConsumer() {
        return reqCons;
    }

    public int responseProducer() {
        return rspProdPvt;
    }
}
