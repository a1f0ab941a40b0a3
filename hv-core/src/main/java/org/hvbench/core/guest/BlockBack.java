package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.ring.BackRing;

/**
 * The back end of the split block driver (Xen's blkback), in the kernel of the I/O partition: it
 * takes requests from each connected front end's ring, reaches the front end's pages by grant, and
 * drives the real device through the partition's own {@link DeviceDriver}, whose completions come
 * back here.
 *
 * <p>It never trusts a ring: the request producer is read once and a ring whose producer runs more
 * than the ring's size ahead is stopped for good; each request is copied into the partition's
 * private page once and only the copy is checked ({@link BlockProtocol#check}) and used; frame
 * references are checked by the hypervisor when they are mapped or copied; work per notification is
 * bounded by the ring's size, so a front end that never stops cannot keep the back end from its other
 * front ends. A bad request gets an error response; a front end's broken ring stops that front end
 * only.
 *
 * <p>Per {@link GrantMode}: MAP maps the request's pages into the partition's mapping window with
 * one batched hypercall and unmaps them with another after the I/O (each unmap a TLB shoot-down);
 * PERSISTENT maps each page of the front end's pool the first time it appears and keeps it; COPY
 * has the hypervisor copy between the front end's pages and the partition's bounce pages (before a
 * write, after a read). The device always DMAs directly into the page it is given.
 *
 * <p>When a front end's domain is destroyed the toolstack tells the back end ({@link #disconnect}):
 * it takes nothing more from that ring and answers nothing more there, lets the front end's requests
 * already on the device finish (their DMA may still be aimed at the dead domain's frames, which the
 * hypervisor keeps in quarantine while they are mapped here), unmaps each request's grants as it
 * completes, and once none is left unmaps the rest (the persistent pool and the ring) and closes the
 * event port. The last unmap of each frame ends its quarantine (scrubbed, then freed). Other front ends
 * are not touched.
 */
public final class BlockBack implements BlockCompletions {
    /** Grant references a persistent connection can keep mapped. */
    public static final int PERSISTENT_REFS = 2048;
    private static final int OPS_MAP = 0;
    private static final int OPS_UNMAP = 1024;
    private static final int OPS_COPY = 2048;
    /**
     * Operations of the toolstack's calls ({@link #connect}, {@link #disconnect}), apart from the data
     * path's: those calls do not run inside the partition's upcall, so a virtual interrupt pending for
     * the partition is delivered on the return of their hypercall, and the back end it runs uses the
     * data path's operations, overwriting statuses and handles not yet read.
     */
    private static final int OPS_CONTROL_UNMAP = 3072;
    private static final int OPS_CONTROL_MAP = 3584;
    /** Where the back end writes a virtual device's label for the access-control module to read. */
    private static final int OPS_LABEL = 3840;
    private static final int MAX_LABEL_BYTES = 4096 - OPS_LABEL;

    private final Hypervisor hv;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final EventPorts events;
    private final Store store;
    private final GrantMode mode;
    private BlockDriver device;
    private final Connection[] byPort = new Connection[org.hvbench.core.evtchn.EventChannels.PORTS];
    private final Connection[] connections = new Connection[Hypervisor.MAX_DOMAINS];
    // The connections in the order they were made: the per-I/O passes walk these, not every domain id.
    private final Connection[] live = new Connection[Hypervisor.MAX_DOMAINS];
    private int liveCount;
    private final long privateGpa;
    private final long opsGpa;

    // Requests on the device, by device tag.
    private final int maxInFlight;
    private final Connection[] tagConnection;
    private final long[] tagId;
    private final int[] tagOp;
    private final int[] tagSegments;
    private final int[][] tagRef;
    private final int[][] tagFirst;
    private final int[][] tagLast;
    private final long[][] tagWindow;
    private final int[][] tagHandle;
    private final int[] freeTags;
    private int freeTagCount;
    private final long[] bounce;
    private final long[] freeWindow;
    private int freeWindowCount;
    private final long[] segmentBus = new long[BlockProtocol.MAX_SEGMENTS];
    private final int[] freshRefs = new int[BlockProtocol.MAX_SEGMENTS];
    private final int[] segmentLength = new int[BlockProtocol.MAX_SEGMENTS];

    // Window pages of closed connections (ring and persistent pool), handed out again before new ones.
    private long[] spareWindow = new long[64];
    private int spareWindowCount;

    private long requests;
    private long refusedConnects;
    private long rejected;
    /** Volatile: the toolstack's thread waits for it while the partition's thread closes connections. */
    private volatile long disconnects;
    private long unmapFailures;
    private long brokenRings;
    private long notifications;
    private long grantHypercalls;

    /** One front end. */
    /** Who sees every request started (a hostile driver domain's logger); null for none. Set in set-up. */
    private RequestObserver observer;

    /**
     * Hands what this back end sees of every request it starts to {@code o} (set-up, before the
     * partition runs): the driver domain's view, for traffic-flow analysis. {@code null} stops it.
     */
    public void observe(RequestObserver o) {
        this.observer = o;
    }

    private static final class Connection {
        final Domain front;
        final BackRing ring;
        final int port;
        final long extentFirst;
        final long extentSectors;
        /** Per grant reference: its page of the mapping window (0 until first used), and whether it is mapped there. */
        final long[] persistentGpa;
        final boolean[] persistentMapped;
        final int[] persistentHandle;
        final long ringGpa;
        final int ringHandle;
        /** Requests of this front end on the device now. */
        int inFlight;
        /** Its domain was destroyed: nothing more is taken or answered; it closes when inFlight reaches 0. */
        boolean closing;
        boolean broken;
        boolean dirty;
        boolean moreWork;

        Connection(Domain front, BackRing ring, long ringGpa, int ringHandle, int port, long extentFirst, long extentSectors,
                   boolean persistent) {
            this.front = front;
            this.ring = ring;
            this.ringGpa = ringGpa;
            this.ringHandle = ringHandle;
            this.port = port;
            this.extentFirst = extentFirst;
            this.extentSectors = extentSectors;
            this.persistentGpa = persistent ? new long[PERSISTENT_REFS] : null;
            this.persistentMapped = persistent ? new boolean[PERSISTENT_REFS] : null;
            this.persistentHandle = persistent ? new int[PERSISTENT_REFS] : null;
        }
    }

    /**
     * @param maxInFlight requests the back end keeps on the device at once (its device queue's size)
     */
    public BlockBack(Hypervisor hv, DomainMemory os, EventPorts events, Store store, GrantMode mode, int maxInFlight) {
        this.hv = hv;
        this.os = os;
        this.memory = os.memory();
        this.events = events;
        this.store = store;
        this.mode = mode;
        this.maxInFlight = maxInFlight;
        this.privateGpa = os.allocate(1);
        this.opsGpa = os.allocate(1);
        tagConnection = new Connection[maxInFlight];
        tagId = new long[maxInFlight];
        tagOp = new int[maxInFlight];
        tagSegments = new int[maxInFlight];
        tagRef = new int[maxInFlight][BlockProtocol.MAX_SEGMENTS];
        tagFirst = new int[maxInFlight][BlockProtocol.MAX_SEGMENTS];
        tagLast = new int[maxInFlight][BlockProtocol.MAX_SEGMENTS];
        tagWindow = new long[maxInFlight][BlockProtocol.MAX_SEGMENTS];
        tagHandle = new int[maxInFlight][BlockProtocol.MAX_SEGMENTS];
        freeTags = new int[maxInFlight];
        for (int t = maxInFlight - 1; t >= 0; t--) {
            freeTags[freeTagCount++] = t;
        }
        int pages = maxInFlight * BlockProtocol.MAX_SEGMENTS;
        bounce = new long[mode == GrantMode.COPY ? pages : 0];
        for (int i = 0; i < bounce.length; i++) {
            bounce[i] = os.allocate(1);
        }
        freeWindow = new long[mode == GrantMode.MAP ? pages : 0];
        for (int i = 0; i < freeWindow.length; i++) {
            freeWindow[freeWindowCount++] = os.allocateWindow(1);
        }
    }

    /** The partition's driver of the real device (set-up; its completions must come here). */
    public void attachDevice(BlockDriver driver) {
        this.device = driver;
    }

    /** {@link #connect(Cpu, Domain, long, long, String)} of a virtual disk the toolstack did not label (nothing to ask). */
    public void connect(Cpu cpu, Domain front, long extentFirst, long extentSectors) {
        connect(cpu, front, extentFirst, extentSectors, null);
    }

    /**
     * Connects to the front end of {@code front} from what it wrote in the store: maps its ring page,
     * binds its event port. Runs in the partition kernel (set-up). The front end's virtual disk is
     * sectors {@code [extentFirst, extentFirst + extentSectors)} of the real one, labelled
     * {@code label} by the toolstack; before anything is mapped the back end asks the access-control
     * module whether {@code front} may use it ({@link #mayServe}), the enforcement point sHype puts in
     * the I/O partition.
     *
     * @return 0, or the module's refusal ({@code -EACCES}): nothing mapped, bound or remembered
     */
    public long connect(Cpu cpu, Domain front, long extentFirst, long extentSectors, String label) {
        long verdict = label == null ? 0 : mayServe(cpu, front, label);
        if (verdict < 0) {
            refusedConnects++;
            return verdict;
        }
        String dir = Store.vbd(front.id());
        int ringRef = (int) store.read(dir + "ring-ref");
        int frontPort = (int) store.read(dir + "event-channel");
        if (store.read(dir + "grant-mode") != mode.ordinal()) {
            throw new IllegalStateException("front end of " + front + " uses another grant mode than the back end (" + mode + ")");
        }
        long ringGpa = windowPage();
        long status = mapOne(cpu, ringGpa, ringRef, front.id(), false);
        if (status < 0) {
            throw new IllegalStateException("back end cannot map the ring of " + front + ": " + Errno.name(status));
        }
        int ringHandle = readInt(cpu, OPS_CONTROL_MAP + GrantOps.MAP_HANDLE);
        long port = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, front.id(), frontPort, 0);
        if (port < 0) {
            throw new IllegalStateException("back end cannot bind the event port of " + front + ": " + Errno.name(port));
        }
        BackRing ring = new BackRing(memory, cpu.view(os.space()), ringGpa, BlockProtocol.REQUEST_BYTES);
        Connection c = new Connection(front, ring, ringGpa, ringHandle, (int) port, extentFirst, extentSectors,
            mode == GrantMode.PERSISTENT);
        byPort[(int) port] = c;
        Connection old = connections[front.id()];
        connections[front.id()] = c;
        if (old == null) {
            live[liveCount++] = c;
        } else {
            for (int i = 0; i < liveCount; i++) {
                live[i] = live[i] == old ? c : live[i];
            }
        }
        events.bind((int) port, this::onEvent);
        return 0;
    }

    /**
     * Asks the access-control module ({@code XSM_OP}) whether {@code front} may use a virtual device
     * labelled {@code label} and may share with this back end's domain: 0, or {@code -EACCES}. With
     * no module loaded the hypervisor answers {@code -ENOSYS}, and everything is permitted. Runs in
     * the partition kernel; the label goes through a page of the back end's, as any hypercall argument.
     */
    public long mayServe(Cpu cpu, Domain front, String label) {
        byte[] bytes = label.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > MAX_LABEL_BYTES) {
            throw new IllegalArgumentException("virtual device label '" + label + "': 1 to " + MAX_LABEL_BYTES + " bytes");
        }
        memory.putBytes(opsMa(cpu, OPS_LABEL), bytes, 0, bytes.length);
        long r = hv.hypercall(cpu, Hypercall.XSM_OP, Hypercall.ACM_GET_RESOURCE_DECISION, front.id(), opsGpa + OPS_LABEL,
            bytes.length);
        if (r == -Errno.ENOSYS) {
            return 0;
        }
        if (r < 0) {
            return r;
        }
        r = hv.hypercall(cpu, Hypercall.XSM_OP, Hypercall.ACM_GET_DECISION, os.domain().id(), front.id(), 0);
        return r == -Errno.ENOSYS ? 0 : r;
    }

    /** Connections the access-control module refused. */
    public long refusedConnects() {
        return refusedConnects;
    }


    /** A page of the mapping window: one a closed connection left, or a new one. */
    private long windowPage() {
        return spareWindowCount > 0 ? spareWindow[--spareWindowCount] : os.allocateWindow(1);
    }

    private void spareWindowPage(long gpa) {
        if (spareWindowCount == spareWindow.length) {
            spareWindow = java.util.Arrays.copyOf(spareWindow, spareWindow.length * 2);
        }
        spareWindow[spareWindowCount++] = gpa;
    }

    /**
     * The toolstack tells the back end that the front end of {@code front} is gone (its domain was
     * destroyed; Xen's blkback sees the front end's xenstore directory go). Runs in the partition
     * kernel on {@code cpu}, while no other party runs it. No more requests are taken from its ring
     * and no response is written there; the requests already on the device finish there (their
     * grants unmapped as each completes); when none is left, or at once when none is on the device,
     * the persistent pool and the ring are unmapped and the event port closed.
     * A front end that is not connected (or closing already) is left as it is.
     *
     * @return requests of the front end still on the device
     */
    public int disconnect(Cpu cpu, Domain front) {
        Connection c = connections[front.id()];
        if (c == null || c.front != front || c.closing) {
            return c == null || c.front != front ? 0 : c.inFlight;
        }
        c.closing = true;
        c.dirty = false;
        c.moreWork = false;
        byPort[c.port] = null;
        // Out of the passes over the live connections, the others keeping their order.
        int kept = 0;
        for (int i = 0; i < liveCount; i++) {
            if (live[i] != c) {
                live[kept++] = live[i];
            }
        }
        for (int i = kept; i < liveCount; i++) {
            live[i] = null;
        }
        liveCount = kept;
        if (c.inFlight == 0) {
            close(cpu, c);
        }
        return c.inFlight;
    }

    /** The last request of a closing connection is done: unmap what stays mapped, close the port. */
    private void close(Cpu cpu, Connection c) {
        int n = 0;
        if (c.persistentMapped != null) {
            for (int ref = 0; ref < PERSISTENT_REFS; ref++) {
                if (c.persistentMapped[ref]) {
                    n = addUnmap(cpu, n, c.persistentGpa[ref], c.persistentHandle[ref]);
                    c.persistentMapped[ref] = false;
                }
                if (c.persistentGpa[ref] != 0) {
                    spareWindowPage(c.persistentGpa[ref]);
                    c.persistentGpa[ref] = 0;
                }
            }
        }
        n = addUnmap(cpu, n, c.ringGpa, c.ringHandle);
        flushUnmaps(cpu, n);
        spareWindowPage(c.ringGpa);
        hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_CLOSE, c.port, 0, 0);
        if (connections[c.front.id()] == c) {
            connections[c.front.id()] = null;
        }
        disconnects = disconnects + 1;
    }

    /** Adds an unmap operation; a full batch goes out at once. Returns the operations waiting. */
    private int addUnmap(Cpu cpu, int n, long host, int handle) {
        if (n == GrantOps.MAX_BATCH) {
            flushUnmaps(cpu, n);
            n = 0;
        }
        long op = opsMa(cpu, OPS_CONTROL_UNMAP + n * GrantOps.UNMAP_BYTES);
        memory.putLong(op + GrantOps.UNMAP_HOST, host);
        memory.putInt(op + GrantOps.UNMAP_HANDLE, handle);
        return n + 1;
    }

    private void flushUnmaps(Cpu cpu, int n) {
        if (n > 0) {
            long r = grantOp(cpu, Hypercall.GNTTAB_UNMAP, OPS_CONTROL_UNMAP, n);
            for (int i = 0; i < n; i++) {
                int status = r < 0 ? (int) r : readShort(cpu, OPS_CONTROL_UNMAP + i * GrantOps.UNMAP_BYTES + GrantOps.UNMAP_STATUS);
                if (status < 0) {
                    unmapFailures++;
                }
            }
        }
    }

    /** A front end's event: serve its ring. */
    private void onEvent(Cpu cpu, int port) {
        Connection c = byPort[port];
        if (c != null) {
            serve(cpu, c);
            publish(cpu);
        }
    }

    /** Takes up to a ring's worth of requests: copy, check, start; one device start for the batch. */
    private void serve(Cpu cpu, Connection c) {
        if (c.broken || c.closing) {
            return;
        }
        int budget = c.ring.size();
        c.moreWork = false;
        int started = 0;
        while (budget > 0) {
            int n = c.ring.unconsumedRequests();
            if (n < 0) {
                c.broken = true;
                brokenRings++;
                break;
            }
            int room = Math.min(freeTagCount, device.freeSlots() - started);
            int take = Math.min(Math.min(n, budget), room);
            long privateMa = cpu.translate(os.space(), privateGpa, Translation.READ | Translation.WRITE);
            for (int i = 0; i < take; i++) {
                memory.copy(c.ring.request(i), privateMa, BlockProtocol.REQUEST_BYTES);
                if (start(cpu, c, privateMa)) {
                    started++;
                }
            }
            c.ring.consumedRequests(take);
            budget -= take;
            if (take < n) {
                c.moreWork = true;
                break;
            }
            if (!c.ring.finalCheckForRequests()) {
                break;
            }
        }
        if (started > 0) {
            device.kick(cpu);
        }
    }

    /** Starts one checked request on the device, or answers it with an error. True when started. */
    private boolean start(Cpu cpu, Connection c, long req) {
        requests++;
        long id = memory.getLong(req + BlockProtocol.ID);
        int op = memory.getByte(req + BlockProtocol.OPERATION) & 0xFF;
        int segments = BlockProtocol.check(memory, req, c.extentSectors);
        if (segments < 0) {
            return refuse(c, id, op, segments);
        }
        int tag = freeTags[--freeTagCount];
        tagConnection[tag] = c;
        tagId[tag] = id;
        tagOp[tag] = op;
        tagSegments[tag] = segments;
        for (int s = 0; s < segments; s++) {
            long seg = req + BlockProtocol.segmentOffset(s);
            tagRef[tag][s] = memory.getInt(seg + BlockProtocol.SEGMENT_REF);
            tagFirst[tag][s] = memory.getByte(seg + BlockProtocol.SEGMENT_FIRST_SECT) & 0xFF;
            tagLast[tag][s] = memory.getByte(seg + BlockProtocol.SEGMENT_LAST_SECT) & 0xFF;
        }
        long r = reachPages(cpu, c, tag);
        if (r < 0) {
            freeTags[freeTagCount++] = tag;
            return refuse(c, id, op, (int) r);
        }
        int access = op == BlockProtocol.OP_READ ? Translation.WRITE : Translation.READ;
        for (int s = 0; s < segments; s++) {
            long page = mode == GrantMode.MAP ? tagWindow[tag][s]
                : mode == GrantMode.PERSISTENT ? c.persistentGpa[tagRef[tag][s]] : bounce[tag * BlockProtocol.MAX_SEGMENTS + s];
            segmentBus[s] = os.busAddress(cpu, page + ((long) tagFirst[tag][s] << 9), access);
            segmentLength[s] = (tagLast[tag][s] - tagFirst[tag][s] + 1) << 9;
        }
        long virtualSector = memory.getLong(req + BlockProtocol.SECTOR);
        if (observer != null) {
            int bytes = 0;
            for (int s = 0; s < segments; s++) {
                bytes += segmentLength[s];
            }
            observer.observe(c.front.id(), op, virtualSector, bytes);
        }
        long sector = c.extentFirst + virtualSector;
        int q = device.queue(cpu, op, sector, tag, segmentBus, segmentLength, 0, segments);
        if (q < 0) {
            release(cpu, tag);
            freeTags[freeTagCount++] = tag;
            return refuse(c, id, op, q);
        }
        c.inFlight++;
        return true;
    }

    /** Makes the request's pages reachable for the device, per grant mode; 0 or a negative errno. */
    private long reachPages(Cpu cpu, Connection c, int tag) {
        int segments = tagSegments[tag];
        if (segments == 0) {
            return 0;
        }
        switch (mode) {
            case MAP: {
                boolean readonly = tagOp[tag] == BlockProtocol.OP_WRITE;
                for (int s = 0; s < segments; s++) {
                    tagWindow[tag][s] = freeWindow[--freeWindowCount];
                    writeMapOp(cpu, s, tagWindow[tag][s], tagRef[tag][s], c.front.id(), readonly);
                }
                long r = grantOp(cpu, Hypercall.GNTTAB_MAP, OPS_MAP, segments);
                int failed = 0;
                for (int s = 0; s < segments; s++) {
                    int status = r < 0 ? (int) r : readShort(cpu, OPS_MAP + s * GrantOps.MAP_BYTES + GrantOps.MAP_STATUS);
                    tagHandle[tag][s] = status < 0 ? -1 : readInt(cpu, OPS_MAP + s * GrantOps.MAP_BYTES + GrantOps.MAP_HANDLE);
                    if (status < 0 && failed == 0) {
                        failed = status;
                    }
                }
                if (failed < 0) {
                    release(cpu, tag);
                    return failed;
                }
                return 0;
            }
            case PERSISTENT: {
                int fresh = 0;
                for (int s = 0; s < segments; s++) {
                    int ref = tagRef[tag][s];
                    if (ref < 0 || ref >= PERSISTENT_REFS) {
                        return -Errno.EINVAL;
                    }
                    if (!c.persistentMapped[ref]) {
                        if (c.persistentGpa[ref] == 0) {
                            // One window page per reference, kept: a reference that fails to map uses it again.
                            c.persistentGpa[ref] = windowPage();
                        }
                        writeMapOp(cpu, fresh, c.persistentGpa[ref], ref, c.front.id(), false);
                        c.persistentMapped[ref] = true;
                        freshRefs[fresh++] = ref;
                    }
                }
                long r = fresh == 0 ? 0 : grantOp(cpu, Hypercall.GNTTAB_MAP, OPS_MAP, fresh);
                int failed = 0;
                for (int i = 0; i < fresh; i++) {
                    int status = r < 0 ? (int) r : readShort(cpu, OPS_MAP + i * GrantOps.MAP_BYTES + GrantOps.MAP_STATUS);
                    if (status < 0) {
                        // Not mapped: the reference keeps its window page for a later try; refuse the request.
                        c.persistentMapped[freshRefs[i]] = false;
                        failed = failed == 0 ? status : failed;
                    } else {
                        // Kept for the unmap when the connection closes.
                        c.persistentHandle[freshRefs[i]] = readInt(cpu, OPS_MAP + i * GrantOps.MAP_BYTES + GrantOps.MAP_HANDLE);
                    }
                }
                return failed;
            }
            default: {
                if (tagOp[tag] != BlockProtocol.OP_WRITE) {
                    return 0;
                }
                return copyPages(cpu, c, tag, true);
            }
        }
    }

    /** COPY mode: the front end's pages into the bounce pages (before a write) or back (after a read). */
    private long copyPages(Cpu cpu, Connection c, int tag, boolean in) {
        int segments = tagSegments[tag];
        for (int s = 0; s < segments; s++) {
            int first = tagFirst[tag][s];
            long bounceGfn = bounce[tag * BlockProtocol.MAX_SEGMENTS + s] >>> MachineMemory.PAGE_SHIFT;
            long op = opsMa(cpu, OPS_COPY + s * GrantOps.COPY_BYTES);
            int length = (tagLast[tag][s] - first + 1) << 9;
            int ref = tagRef[tag][s];
            memory.putInt(op + GrantOps.COPY_SRC_REF, in ? ref : (int) bounceGfn);
            memory.putShort(op + GrantOps.COPY_SRC_DOM, (short) (in ? c.front.id() : os.domain().id()));
            memory.putShort(op + GrantOps.COPY_SRC_OFFSET, (short) (first << 9));
            memory.putInt(op + GrantOps.COPY_DST_REF, in ? (int) bounceGfn : ref);
            memory.putShort(op + GrantOps.COPY_DST_DOM, (short) (in ? os.domain().id() : c.front.id()));
            memory.putShort(op + GrantOps.COPY_DST_OFFSET, (short) (first << 9));
            memory.putShort(op + GrantOps.COPY_LENGTH, (short) length);
            memory.putShort(op + GrantOps.COPY_FLAGS, (short) (in ? GrantOps.COPY_SOURCE_GREF : GrantOps.COPY_DEST_GREF));
        }
        long r = grantOp(cpu, Hypercall.GNTTAB_COPY, OPS_COPY, segments);
        if (r < 0) {
            return r;
        }
        for (int s = 0; s < segments; s++) {
            int status = readShort(cpu, OPS_COPY + s * GrantOps.COPY_BYTES + GrantOps.COPY_STATUS);
            if (status < 0) {
                return status;
            }
        }
        return 0;
    }

    /** MAP mode: unmaps what the request mapped, with one batched hypercall. */
    private void release(Cpu cpu, int tag) {
        if (mode != GrantMode.MAP) {
            return;
        }
        int n = 0;
        for (int s = 0; s < tagSegments[tag]; s++) {
            if (tagHandle[tag][s] >= 0) {
                long op = opsMa(cpu, OPS_UNMAP + n * GrantOps.UNMAP_BYTES);
                memory.putLong(op + GrantOps.UNMAP_HOST, tagWindow[tag][s]);
                memory.putInt(op + GrantOps.UNMAP_HANDLE, tagHandle[tag][s]);
                n++;
            }
            freeWindow[freeWindowCount++] = tagWindow[tag][s];
            tagHandle[tag][s] = -1;
        }
        if (n > 0) {
            grantOp(cpu, Hypercall.GNTTAB_UNMAP, OPS_UNMAP, n);
        }
    }

    /** The toolstack's one mapping (a ring), in the control area of the operations page. */
    private long mapOne(Cpu cpu, long host, int ref, int domid, boolean readonly) {
        writeMapOp(cpu, OPS_CONTROL_MAP, 0, host, ref, domid, readonly);
        long r = grantOp(cpu, Hypercall.GNTTAB_MAP, OPS_CONTROL_MAP, 1);
        return r < 0 ? r : readShort(cpu, OPS_CONTROL_MAP + GrantOps.MAP_STATUS);
    }

    private void writeMapOp(Cpu cpu, int index, long host, int ref, int domid, boolean readonly) {
        writeMapOp(cpu, OPS_MAP, index, host, ref, domid, readonly);
    }

    private void writeMapOp(Cpu cpu, int area, int index, long host, int ref, int domid, boolean readonly) {
        long op = opsMa(cpu, area + index * GrantOps.MAP_BYTES);
        memory.putLong(op + GrantOps.MAP_HOST, host);
        memory.putInt(op + GrantOps.MAP_FLAGS, readonly ? GrantOps.MAP_READONLY : 0);
        memory.putInt(op + GrantOps.MAP_REF, ref);
        memory.putShort(op + GrantOps.MAP_DOM, (short) domid);
    }

    private long grantOp(Cpu cpu, int cmd, int offset, int count) {
        grantHypercalls++;
        return hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, cmd, opsGpa + offset, count, 0);
    }

    private long opsMa(Cpu cpu, int offset) {
        return cpu.translate(os.space(), opsGpa + offset, Translation.READ | Translation.WRITE);
    }

    private int readShort(Cpu cpu, int offset) {
        return memory.getShort(opsMa(cpu, offset));
    }

    private int readInt(Cpu cpu, int offset) {
        return memory.getInt(opsMa(cpu, offset));
    }

    private boolean refuse(Connection c, long id, int op, int status) {
        rejected++;
        respond(c, id, op, status);
        return false;
    }

    private void respond(Connection c, long id, int op, int status) {
        if (c.broken || c.closing) {
            return;
        }
        long rsp = c.ring.nextResponse();
        memory.putLong(rsp + BlockProtocol.RESPONSE_ID, id);
        memory.putByte(rsp + BlockProtocol.RESPONSE_OPERATION, (byte) op);
        memory.putShort(rsp + BlockProtocol.RESPONSE_STATUS, (short) status);
        c.ring.produced();
        c.dirty = true;
    }

    @Override
    public void onBlockComplete(Cpu cpu, int tag, int status) {
        if (tag < 0 || tag >= maxInFlight || tagConnection[tag] == null) {
            return;
        }
        Connection c = tagConnection[tag];
        tagConnection[tag] = null;
        c.inFlight--;
        if (c.closing) {
            // Its front end is gone: the device is done with the pages, so unmap them (ending their
            // quarantine); no answer, nobody to read it. The last one closes the connection.
            release(cpu, tag);
            freeTags[freeTagCount++] = tag;
            if (c.inFlight == 0) {
                close(cpu, c);
            }
            return;
        }
        if (mode == GrantMode.COPY && tagOp[tag] == BlockProtocol.OP_READ && status == 0) {
            long r = copyPages(cpu, c, tag, false);
            if (r < 0) {
                status = (int) r;
            }
        }
        release(cpu, tag);
        respond(c, tagId[tag], tagOp[tag], status);
        freeTags[freeTagCount++] = tag;
    }

    @Override
    public void onInterruptDone(Cpu cpu) {
        for (int i = 0; i < liveCount; i++) {
            Connection c = live[i];
            if (c.moreWork) {
                serve(cpu, c);
            }
        }
        publish(cpu);
    }

    /** Publishes every connection's new responses; an event only where the front end asked for one. */
    private void publish(Cpu cpu) {
        for (int i = 0; i < liveCount; i++) {
            Connection c = live[i];
            if (c.dirty) {
                c.dirty = false;
                if (c.ring.pushResponsesAndCheckNotify()) {
                    notifications++;
                    events.send(cpu, c.port);
                }
            }
        }
    }

    /** Requests taken from rings. */
    public long requests() {
        return requests;
    }

    /** Requests answered with an error before reaching the device. */
    public long rejected() {
        return rejected;
    }

    /** Rings stopped because their producer ran too far ahead. */
    public long brokenRings() {
        return brokenRings;
    }

    /** Events sent to front ends. */
    public long notifications() {
        return notifications;
    }

    /** Grant map, unmap and copy hypercalls made. */
    public long grantHypercalls() {
        return grantHypercalls;
    }

    /** Unmaps of a closing connection's grants that the hypervisor refused (a bookkeeping bug if not 0). */
    public long unmapFailures() {
        return unmapFailures;
    }

    /** Connections closed after their front end's domain was destroyed. */
    public long disconnects() {
        return disconnects;
    }

    /** True while the back end holds a connection to {@code front} (closing or not). */
    public boolean connected(Domain front) {
        Connection c = connections[front.id()];
        return c != null && c.front == front;
    }

    /** Requests of {@code front} on the device now (0 when it is not connected). */
    public int inFlight(Domain front) {
        Connection c = connections[front.id()];
        return c == null || c.front != front ? 0 : c.inFlight;
    }

    /** The event port the back end holds for {@code front}, or -1 when it is not connected. */
    public int port(Domain front) {
        Connection c = connections[front.id()];
        return c == null || c.front != front ? -1 : c.port;
    }

    /**
     * The machine frames that {@code front}'s requests on the device now reach through grants (their
     * pages in the partition's window; none in COPY mode, whose device pages are bounce pages), for
     * tests: where DMA may still land.
     */
    public long[] inFlightFrames(Domain front) {
        long[] out = new long[maxInFlight * BlockProtocol.MAX_SEGMENTS];
        int n = 0;
        for (int tag = 0; tag < maxInFlight; tag++) {
            Connection c = tagConnection[tag];
            if (c == null || c.front != front || mode == GrantMode.COPY) {
                continue;
            }
            for (int s = 0; s < tagSegments[tag]; s++) {
                long page = mode == GrantMode.MAP ? tagWindow[tag][s] : c.persistentGpa[tagRef[tag][s]];
                long t = os.domain().space().table().translate(page);
                if (t >= 0) {
                    out[n++] = Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT;
                }
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** Requests of {@code front} taken from its ring and not answered yet (0 when it is not connected). */
    public int outstanding(Domain front) {
        Connection c = connections[front.id()];
        return c == null ? 0 : c.ring.outstanding();
    }

    /** Pages of the mapping window given to persistent references of {@code front}: at most {@link #PERSISTENT_REFS}. */
    public int persistentPages(Domain front) {
        Connection c = connections[front.id()];
        int n = 0;
        for (int ref = 0; c != null && c.persistentGpa != null && ref < PERSISTENT_REFS; ref++) {
            n += c.persistentGpa[ref] != 0 ? 1 : 0;
        }
        return n;
    }

    /** True when the ring of {@code front} was stopped. */
    public boolean broken(Domain front) {
        Connection c = connections[front.id()];
        return c != null && c.broken;
    }
}
