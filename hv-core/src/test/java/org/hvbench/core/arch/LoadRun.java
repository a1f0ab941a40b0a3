package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.FifoEvents;
import org.hvbench.core.evtchn.FifoLayout;
import org.hvbench.core.evtchn.FifoQueues;
import org.hvbench.core.evtchn.SharedInfo;
import org.hvbench.core.exec.Executor;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.FrontRing;
import org.hvbench.core.ring.SharedRing;

/**
 * The machinery of a load run, shared by {@link LoadTest} and {@link FaultLoadTest}: an io-partition
 * machine with {@value #GUESTS} guests on one back end, each with a virtual disk of its own (an
 * extent of the real one) and {@value #DEPTH} I/Os in flight; per guest a model of its disk and
 * exactly-once accounting of responses by request id; the checks for leaks at the end, and of the
 * disk file itself after the machine is closed.
 *
 * <p>A write stamps (guest, sector, generation) into every 8-byte word of every sector; the model
 * takes a write's generation as the sector's content only when the write is acknowledged, and no
 * two I/Os of a guest in flight overlap, so a read has a single right answer (the last acknowledged
 * write, or what the disk held at the start: zeros for the RAM disk, a pattern stamped by
 * {@link #INITIAL_OWNER} for the file disk). Read buffers are poisoned first.
 */
final class LoadRun implements AutoCloseable {
    static final int GUESTS = 64;
    static final int DEPTH = 8;
    static final long DISK_BYTES = 128L << 20;
    static final int SECTOR = 512;
    private static final int WORDS = SECTOR / 8;
    /** Largest request: the protocol's segments, whole pages. */
    private static final int MAX_SECTORS = BlockProtocol.MAX_SEGMENTS * (MachineMemory.PAGE_SIZE / SECTOR);
    /** Owner stamped into the file disk's initial contents (guests are 1..GUESTS). */
    private static final long INITIAL_OWNER = 0xFFFF;

    final boolean fileDisk;
    final GrantMode mode;
    final long requests;
    /** The disk file, or null for the RAM disk. */
    final Path file;
    final IoPath path;
    final IoPartitionPlacement placement;
    final MachineMemory memory;
    final Cpu cpu;
    final List<LoadGuest> guests = new ArrayList<>();
    private final Snapshot before;

    long issuedTotal;
    long completedTotal;
    long bytesWritten;
    long bytesRead;
    long sectorsNeverWrittenRead;

    /**
     * Opens the machine for {@code kind}'s executor ({@code dir} holds the disk file if
     * {@code fileDisk}), boots the guests (guest {@code g}'s random I/O seeded with
     * {@code seed + g}) and takes the snapshot the leak checks compare against.
     */
    LoadRun(Path dir, Executor.Kind kind, boolean fileDisk, GrantMode mode, long requests, long seed) throws IOException {
        this.fileDisk = fileDisk;
        this.mode = mode;
        this.requests = requests;
        MachineConfig config = MachineConfig.defaults().memory(512L << 20).diskBytes(DISK_BYTES)
            .events(System.getProperty("hvbench.load.events", "two-level"));
        if (fileDisk) {
            file = dir.resolve("load.img");
            writeInitialPattern(file);
            config.diskFile(file);
        } else {
            file = null;
        }
        long sectorsPerGuest = DISK_BYTES / SECTOR / GUESTS;
        path = Placement.IO_PARTITION.open(config, 1, mode, kind.layout());
        try {
            placement = (IoPartitionPlacement) path;
            memory = path.machine().memory();
            cpu = path.cpu();
            for (int g = 0; g < GUESTS; g++) {
                LoadGuest lg = new LoadGuest(g + 1, g * sectorsPerGuest, (int) sectorsPerGuest, seed + g);
                lg.attach(placement.addGuest("load" + g, DEPTH, lg.first, lg.sectors, lg));
                guests.add(lg);
            }
            before = new Snapshot(placement, guests);
        } catch (RuntimeException | Error e) {
            path.close();
            throw e;
        }
    }

    /** Every guest prepares an I/O in each free slot and submits them with one system call. */
    void fill() {
        for (LoadGuest lg : guests) {
            lg.fill();
        }
    }

    long completed() {
        return completedTotal;
    }

    /** Every request issued, each answered once; no guest saw an error or a bad response. */
    void checkAllAnswered() {
        for (LoadGuest lg : guests) {
            lg.checkAllAnswered();
        }
        assertEquals(requests, issuedTotal);
    }

    /** Nothing taken since the start but what the run may keep (see {@link Snapshot}). */
    void assertNothingLeaked() {
        before.assertNothingLeaked(placement, guests, mode);
    }

    /** Closes the machine (and with it the disk file). */
    @Override
    public void close() {
        path.close();
    }

    /**
     * After {@link #close}: the disk file, read directly, holds in every sector of every guest what
     * its model says (the last acknowledged write, or the initial pattern). Returns the bytes checked.
     */
    long assertFileHoldsModel() throws IOException {
        if (file == null) {
            throw new IllegalStateException("a RAM disk has no file");
        }
        long checked = 0;
        ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.nativeOrder());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            assertEquals(DISK_BYTES, ch.size(), "the disk file's size");
            for (LoadGuest lg : guests) {
                for (int s = 0; s < lg.sectors; ) {
                    b.clear();
                    b.limit(Math.min(b.capacity(), (lg.sectors - s) * SECTOR));
                    long at = (lg.first + s) * SECTOR;
                    while (b.hasRemaining()) {
                        if (ch.read(b, at + b.position()) < 0) {
                            fail("the disk file ends at " + (at + b.position()));
                        }
                    }
                    b.flip();
                    while (b.hasRemaining()) {
                        long head = lg.stamp(s);
                        long stampSector = lg.generation[s] != 0 ? s : lg.first + s;
                        for (int w = 0; w < WORDS; w++) {
                            long found = b.getLong();
                            if (found != word(head, stampSector, w)) {
                                fail(String.format(Locale.ROOT, "disk file: guest %d sector %d (disk sector %d) word %d:"
                                        + " expected owner %d generation %d; the file holds %#x", lg.owner, s, lg.first + s, w,
                                    head >>> 48, head & ((1L << 48) - 1), found));
                            }
                        }
                        s++;
                        checked += SECTOR;
                    }
                }
            }
        }
        return checked;
    }

    /**
     * Lets every party finish what is under way. Threaded: the executor is closed first, which joins
     * every party's thread (a party may be between taking an interrupt and sending the event it
     * causes, which no poll from outside can see), and then what they left — an event raised for
     * the application's CPU, a request rung just before the stop — is run on this thread, as inline,
     * until no party has work. Closing the executor again afterwards does nothing.
     */
    static void quiesce(Executor executor, IoPath path) {
        if (!(executor instanceof InlineExecutor)) {
            executor.close();
        }
        new InlineExecutor(path).runUntilIdle();
    }

    /** Fills the file disk with its initial contents: every sector stamped by {@link #INITIAL_OWNER}. */
    private static void writeInitialPattern(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1 << 20).order(ByteOrder.nativeOrder());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long sector = 0; sector < DISK_BYTES / SECTOR; ) {
                b.clear();
                while (b.hasRemaining()) {
                    for (int w = 0; w < WORDS; w++) {
                        b.putLong(word(INITIAL_OWNER << 48, sector, w));
                    }
                    sector++;
                }
                b.flip();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        }
    }

    /**
     * Word {@code w} of a sector stamped with {@code head} (owner in the top 16 bits, generation
     * below): the head, the sector, then words mixed from both (SplitMix64's finaliser), so a sector
     * of another guest, another sector or another generation differs in every word.
     */
    static long word(long head, long sector, int w) {
        if (w == 0) {
            return head;
        }
        if (w == 1) {
            return sector;
        }
        long z = head * 0x9E3779B97F4A7C15L + sector * 0xC2B2AE3D27D4EB4FL + w;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** One guest's app, its model of its disk and its I/Os in flight. */
    final class LoadGuest implements App.CompletionListener {
        final int owner;
        final long first;
        final int sectors;
        final Random random;
        /** Per sector of the virtual disk: the generation of the last write that completed, 0 for none. */
        final long[] generation;
        long nextGeneration;
        long issued;
        long completed;
        final BitSet answered = new BitSet();
        IoPartitionPlacement.Guest guest;

        // Per I/O slot: its buffer (12 pages; the page machine addresses found once) and its I/O.
        final long[] bufferVa = new long[DEPTH];
        final long[][] pageMa = new long[DEPTH][BlockProtocol.MAX_SEGMENTS + 1];
        final boolean[] busy = new boolean[DEPTH];
        final long[] slotId = new long[DEPTH];
        final int[] slotOp = new int[DEPTH];
        final long[] slotSector = new long[DEPTH];
        final int[] slotSectors = new int[DEPTH];
        final int[] slotOffset = new int[DEPTH];
        final long[] slotGeneration = new long[DEPTH];
        final int[] batch = new int[DEPTH];

        LoadGuest(int owner, long first, int sectors, long seed) {
            this.owner = owner;
            this.first = first;
            this.sectors = sectors;
            this.random = new Random(seed);
            this.generation = new long[sectors];
        }

        void attach(IoPartitionPlacement.Guest g) {
            this.guest = g;
            for (int s = 0; s < DEPTH; s++) {
                bufferVa[s] = g.app.allocateBuffer(pageMa[s].length * MachineMemory.PAGE_SIZE);
                for (int p = 0; p < pageMa[s].length; p++) {
                    pageMa[s][p] = g.app.memory().hostTranslate(bufferVa[s] + ((long) p << MachineMemory.PAGE_SHIFT));
                }
            }
        }

        /** I/Os of this guest submitted and not yet answered. */
        int inFlight() {
            int n = 0;
            for (boolean b : busy) {
                n += b ? 1 : 0;
            }
            return n;
        }

        /** The head word sector {@code s} of this guest's disk must hold by the model. */
        long stamp(int s) {
            long gen = generation[s];
            return gen != 0 ? ((long) owner << 48) | gen : INITIAL_OWNER << 48;
        }

        /** The machine address of sector {@code i} of slot {@code slot}'s buffer (a sector never spans pages). */
        private long sectorMa(int slot, int i) {
            int offset = (slotOffset[slot] + i) * SECTOR;
            return pageMa[slot][offset >>> MachineMemory.PAGE_SHIFT] + (offset & MachineMemory.PAGE_MASK);
        }

        /** Prepares an I/O in every free slot and submits them with one system call. */
        void fill() {
            int k = 0;
            for (int slot = 0; slot < DEPTH && issuedTotal < requests; slot++) {
                if (busy[slot] || !prepare(slot, k)) {
                    continue;
                }
                batch[k++] = slot;
                issuedTotal++;
            }
            if (k == 0) {
                return;
            }
            cpu.idleSwitch(guest.kernel.appContext());
            long r = guest.app.submit(cpu, 0, k);
            if (r < 0 && r != -Errno.EAGAIN) {
                fail("guest " + owner + ": io_submit refused: " + Errno.name(r));
            }
            // What the kernel did not take was never issued: the tail of the batch.
            for (int i = (int) Math.max(r, 0); i < k; i++) {
                busy[batch[i]] = false;
                issued--;
                issuedTotal--;
            }
        }

        /** A random I/O in {@code slot}, its control block {@code iocb}; false when no free range was found. */
        private boolean prepare(int slot, int iocb) {
            int offset = random.nextInt(MachineMemory.PAGE_SIZE / SECTOR);
            int count = 1 + random.nextInt(MAX_SECTORS - offset);
            long sector = -1;
            for (int tries = 0; tries < 16 && sector < 0; tries++) {
                long s = random.nextInt(sectors - count + 1);
                if (!overlapsInFlight(s, count)) {
                    sector = s;
                }
            }
            if (sector < 0) {
                return false;
            }
            boolean write = random.nextBoolean();
            slotOffset[slot] = offset;
            slotSectors[slot] = count;
            slotSector[slot] = sector;
            slotOp[slot] = write ? Aio.PWRITE : Aio.PREAD;
            slotId[slot] = issued++;
            if (write) {
                long gen = ++nextGeneration;
                slotGeneration[slot] = gen;
                long head = ((long) owner << 48) | gen;
                for (int i = 0; i < count; i++) {
                    long ma = sectorMa(slot, i);
                    for (int w = 0; w < WORDS; w++) {
                        memory.putLong(ma + 8L * w, word(head, sector + i, w));
                    }
                }
            } else {
                for (int i = 0; i < count; i++) {
                    memory.setMemory(sectorMa(slot, i), SECTOR, (byte) 0xA5);
                }
            }
            busy[slot] = true;
            guest.app.prepare(cpu, iocb, slotOp[slot], sector * SECTOR, bufferVa[slot] + (long) offset * SECTOR,
                count * SECTOR, slotId[slot]);
            return true;
        }

        /** Two I/Os in flight on the same sectors would leave the model no single answer. */
        private boolean overlapsInFlight(long sector, int count) {
            for (int s = 0; s < DEPTH; s++) {
                if (busy[s] && sector < slotSector[s] + slotSectors[s] && slotSector[s] < sector + count) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void onCompletion(Cpu c, long id, int result) {
            int slot = -1;
            for (int s = 0; s < DEPTH; s++) {
                if (busy[s] && slotId[s] == id) {
                    slot = s;
                }
            }
            if (slot < 0) {
                fail("guest " + owner + ": a response for id " + id + (id < 0 || id >= issued ? ", never issued"
                    : answered.get((int) id) ? ", answered already" : ", not in flight"));
            }
            int bytes = slotSectors[slot] * SECTOR;
            assertEquals(bytes, result, "guest " + owner + " id " + id + ": result");
            if (slotOp[slot] == Aio.PWRITE) {
                // Acknowledged: only now is it what the disk holds.
                for (int i = 0; i < slotSectors[slot]; i++) {
                    generation[(int) slotSector[slot] + i] = slotGeneration[slot];
                }
                bytesWritten += bytes;
            } else {
                for (int i = 0; i < slotSectors[slot]; i++) {
                    verify(slot, i);
                }
                bytesRead += bytes;
            }
            answered.set((int) id);
            busy[slot] = false;
            completed++;
            completedTotal++;
        }

        /** Sector {@code i} of a completed read holds what the model says, word for word. */
        private void verify(int slot, int i) {
            long sector = slotSector[slot] + i;
            long gen = generation[(int) sector];
            long ma = sectorMa(slot, i);
            long head;
            long stampSector;
            if (gen != 0) {
                head = ((long) owner << 48) | gen;
                stampSector = sector;
            } else {
                sectorsNeverWrittenRead++;
                if (!fileDisk) {
                    for (int w = 0; w < WORDS; w++) {
                        if (memory.getLong(ma + 8L * w) != 0) {
                            fail("guest " + owner + " sector " + sector + " was never written and reads non-zero at word " + w);
                        }
                    }
                    return;
                }
                head = INITIAL_OWNER << 48;
                stampSector = first + sector;
            }
            for (int w = 0; w < WORDS; w++) {
                long found = memory.getLong(ma + 8L * w);
                if (found != word(head, stampSector, w)) {
                    long foundHead = memory.getLong(ma);
                    fail(String.format(Locale.ROOT, "guest %d sector %d (disk sector %d) word %d: expected owner %d generation %d"
                            + " sector %d; the sector holds owner %d generation %d sector %d", owner, sector, first + sector, w,
                        head >>> 48, head & ((1L << 48) - 1), stampSector, foundHead >>> 48, foundHead & ((1L << 48) - 1),
                        memory.getLong(ma + 8)));
                }
            }
        }

        void checkAllAnswered() {
            assertEquals(issued, completed, "guest " + owner + ": responses");
            assertEquals(issued, answered.cardinality(), "guest " + owner + ": ids answered");
            assertEquals(issued, answered.nextClearBit(0), "guest " + owner + ": the first id never answered");
            for (int s = 0; s < DEPTH; s++) {
                assertFalse(busy[s], "guest " + owner + ": slot " + s + " still in flight");
            }
            assertEquals(0, guest.kernel.inFlight(), "guest " + owner + ": kernel I/Os in flight");
            assertEquals(0, guest.kernel.badCompletions());
            assertEquals(0, guest.app.badEvents());
            assertEquals(0, guest.app.errors());
            assertEquals(0, guest.front.badResponses(), "guest " + owner + ": responses with an unknown or answered id");
            assertFalse(guest.front.broken());
        }
    }

    /**
     * What must be the same after the run as before it: free frames, but for page-table nodes of new
     * mappings (counted over the live domains, so a rebuilt partition's tables stand for its
     * destroyed predecessor's), every guest's free grant references, and the frames the back end has
     * mapped of each guest (the persistent pool, mapped on first use, may stay).
     */
    static final class Snapshot {
        final int freeFrames;
        final long tableFrames;
        final int[] freeReferences = new int[GUESTS];
        final int[] pinned = new int[GUESTS];

        Snapshot(IoPartitionPlacement placement, List<LoadGuest> guests) {
            freeFrames = placement.machine().frames().freeFrames();
            tableFrames = tableFrames(placement.hypervisor());
            for (int g = 0; g < GUESTS; g++) {
                freeReferences[g] = guests.get(g).guest.grants.freeReferences();
                pinned[g] = placement.grantOps().pinned(guests.get(g).guest.domain);
            }
        }

        /** Page-table frames of the hypervisor and of every domain's p2m. */
        static long tableFrames(Hypervisor hv) {
            long n = hv.space().table().tableFrames();
            for (Domain d : hv.domains()) {
                n += d.space().table().tableFrames();
            }
            return n;
        }

        void assertNothingLeaked(IoPartitionPlacement placement, List<LoadGuest> guests, GrantMode mode) {
            Hypervisor hv = placement.hypervisor();
            long newTables = tableFrames(hv) - tableFrames;
            assertEquals(freeFrames - newTables, placement.machine().frames().freeFrames(),
                "frames taken by the run that are not page-table nodes of new mappings (" + newTables + " are)");
            for (int g = 0; g < GUESTS; g++) {
                IoPartitionPlacement.Guest guest = guests.get(g).guest;
                assertEquals(freeReferences[g], guest.grants.freeReferences(), guest.domain + ": grant references not back");
                assertEquals(0, guest.front.stuckNow(), guest.domain + ": grants the back end still holds");
                int pinnedNow = placement.grantOps().pinned(guest.domain);
                if (mode == GrantMode.PERSISTENT) {
                    // The pool is mapped once, on first use, and stays mapped by design.
                    assertTrue(pinnedNow >= pinned[g] && pinnedNow <= pinned[g] + DEPTH * BlockProtocol.MAX_SEGMENTS,
                        guest.domain + ": " + pinnedNow + " frames mapped");
                } else {
                    assertEquals(pinned[g], pinnedNow, guest.domain + ": frames still mapped by the back end");
                }
                assertRingEmpty(placement, guest);
            }
            for (Domain d : hv.domains()) {
                assertNoEventPending(placement, d);
            }
            for (Cpu c : placement.cpus()) {
                assertFalse(c.hasWork(), c + " has an interrupt pending");
            }
            assertFalse(placement.machine().device().hasWork(), "the device has work");
        }

        /** Every request answered and consumed; both sides asked to hear of the next one. */
        private static void assertRingEmpty(IoPartitionPlacement placement, IoPartitionPlacement.Guest guest) {
            FrontRing ring = guest.front.ring();
            MachineMemory memory = placement.machine().memory();
            long page = ring.nextRequest() & ~MachineMemory.PAGE_MASK;
            int reqProd = memory.getIntVolatile(page + SharedRing.REQ_PROD);
            int rspProd = memory.getIntVolatile(page + SharedRing.RSP_PROD);
            String who = guest.domain + ": ring ";
            assertEquals(ring.requestProducer(), reqProd, who + "req_prod");
            assertEquals(reqProd, rspProd, who + "rsp_prod");
            assertEquals(rspProd, ring.responseConsumer(), who + "rsp_cons");
            assertEquals(ring.size(), ring.freeRequests(), who + "free slots");
            assertEquals(rspProd + 1, memory.getIntVolatile(page + SharedRing.RSP_EVENT), who + "rsp_event");
            assertEquals(reqProd + 1, memory.getIntVolatile(page + SharedRing.REQ_EVENT), who + "req_event");
        }
    }

    /** No port of {@code d} pending, no upcall asked for, no virtual interrupt waiting. */
    static void assertNoEventPending(BasePlacement placement, Domain d) {
        MachineMemory memory = placement.machine().memory();
        assertFalse(d.virqPending(), d + ": a virtual interrupt is pending");
        FifoEvents fifo = placement.fifoEvents();
        if (fifo != null && fifo.enabled(d)) {
            FifoQueues q = fifo.queues(d);
            assertEquals(0, memory.getIntVolatile(q.controlMa() + FifoLayout.READY), d + ": READY");
            for (int port = 1; port < q.ports(); port++) {
                assertEquals(0, q.word(port) & (FifoLayout.PENDING | FifoLayout.LINKED), d + ": port " + port + " pending");
            }
            return;
        }
        long base = d.sharedInfoMa();
        assertEquals(0, memory.getIntVolatile(base + SharedInfo.UPCALL_PENDING), d + ": upcall_pending");
        assertEquals(0, memory.getLongVolatile(base + SharedInfo.PENDING_SEL), d + ": pending selector");
        for (int w = 0; w < SharedInfo.WORDS; w++) {
            assertEquals(0, memory.getLongVolatile(base + SharedInfo.PENDING + 8L * w), d + ": pending word " + w);
        }
    }
}
