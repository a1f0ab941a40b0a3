package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * How a back end reaches a guest's payload: an operation moves {@code payload} bytes of one guest's
 * granted pages into the back end's buffer, the guests taken in turn.
 * <ul>
 * <li>{@code map}: one batched map hypercall, the back end reads through the mapping, one unmap
 *     hypercall (a TLB shoot-down per page);</li>
 * <li>{@code copy}: one batched copy hypercall, the hypervisor moves the bytes;</li>
 * <li>{@code persistent}: the pages were mapped once at set-up; the guest first copies its data into
 *     them (what persistent grants cost the front end), then the back end reads through the mapping.</li>
 * </ul>
 * The {@code bytes} counter is payload bytes per second; {@link OpCounters} gives crossings, TLB
 * misses, IOTLB misses and modelled ns per operation.
 *
 * <p>What each operation did is checked. Before each grant hypercall the harness marks every
 * operation's status word with {@link #NO_STATUS}, which the hypervisor never writes; after it, each
 * status must be {@code GNTST_okay} (0, Xen's {@code grant_table.h}) and the hypercall must return 0,
 * else the operation is counted as failed. At the end of each iteration ({@link #checkIteration}) the
 * run fails if any operation failed, if none ran, if the back end's buffer (marked at the iteration's
 * start) does not hold exactly the last guest's bytes (each guest has bytes of its own), if a map was
 * left in the window, or if grants are pinned that should not be. The harness reads and writes those
 * words by machine address: no TLB access, no modelled cost.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class GrantBench {
    /** Xen's {@code GNTST_okay}: the status of a grant operation that succeeded. */
    static final int GNTST_OKAY = 0;
    /** Written over each status word before a hypercall: the hypervisor writes only 0 or a negative errno. */
    static final short NO_STATUS = Short.MAX_VALUE;
    /** Where the unmap operations start in the back end's operations page (the maps take the first 384 bytes). */
    private static final int UNMAP_OPS = 2048;
    /** Written over the back end's buffer at each iteration's start: no guest's bytes. */
    private static final byte NO_DATA = (byte) 0xA5;

    // What failed first, for the check's message.
    private static final int MAP_CALL = 0;
    private static final int MAP_STATUS = 1;
    private static final int BACK_END_READ = 2;
    private static final int UNMAP_CALL = 3;
    private static final int UNMAP_STATUS = 4;
    private static final int COPY_CALL = 5;
    private static final int COPY_STATUS = 6;
    private static final int GUEST_COPY = 7;
    private static final String[] FAILURES = {"the map hypercall", "a map operation's status", "the back end's read through the mapping",
        "the unmap hypercall", "an unmap operation's status", "the copy hypercall", "a copy operation's status",
        "the guest's copy into its persistent grants"};

    @Param({"map", "copy", "persistent"})
    public String grantMode;

    @Param({"512", "4096", "65536"})
    public int payload;

    @Param({"1", "16"})
    public int guests;

    @Param({"false"})
    public boolean tlbTagged;

    private Machine machine;
    private MachineMemory memory;
    private Hypervisor hv;
    private GrantOps grantOps;
    private Cpu cpu;
    private CoreMeter meter;
    private GrantMode mode;
    private Domain back;
    private DomainMemory backMemory;
    private Domain[] guestDomains;
    /** Each guest's memory; package-private so a test can change what a guest holds. */
    DomainMemory[] guestMemory;
    /** Each guest's grant table; package-private so a test can revoke the grants. */
    GrantTable[] tables;
    /** Each guest's payload, different for each guest: what the back end's buffer must hold after a move. */
    private byte[][] expected;
    /** Each guest's payload pages; package-private for tests. */
    long[] dataGpa;
    private long[] poolGpa;
    /** Each guest's grant references, one per page; package-private so a test can revoke them. */
    int[][] refs;
    private long[] persistentWindow;
    private long bufferGpa;
    private long[] bufferMa;
    private long opsGpa;
    private long opsMa;
    private long windowGpa;
    private int pages;
    private int next;
    // Per iteration: operations done, operations that failed, the first failure, the last guest moved.
    private long moves;
    private long failures;
    private int failedWhat;
    private int failedPage;
    private long failedStatus;
    private int lastGuest;

    /** Payload moved, as a rate. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Bytes {
        public long bytes;
        public long hypercalls;

        @Setup(Level.Iteration)
        public void clear() {
            bytes = 0;
            hypercalls = 0;
        }
    }

    @Setup(Level.Trial)
    public void boot() {
        mode = GrantMode.parse(grantMode);
        if (payload < 512 || payload > 65536 || payload % 512 != 0) {
            throw new IllegalArgumentException("payload: " + payload + " is not allowed; use whole sectors from 512 to 65536");
        }
        pages = (payload + MachineMemory.PAGE_SIZE - 1) / MachineMemory.PAGE_SIZE;
        machine = new Machine(BenchConfig.machine().memory(128L << 20).tlbTagged(tlbTagged));
        memory = machine.memory();
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        grantOps = new GrantOps(hv);
        back = hv.createDomain("back", "back", 4L << 20, false);
        backMemory = new DomainMemory(back, machine.memory());
        bufferGpa = backMemory.allocate(pages);
        bufferMa = new long[pages];
        for (int p = 0; p < pages; p++) {
            bufferMa[p] = backMemory.hostTranslate(bufferGpa + ((long) p << MachineMemory.PAGE_SHIFT));
        }
        opsGpa = backMemory.allocate(1);
        opsMa = backMemory.hostTranslate(opsGpa);
        windowGpa = backMemory.allocateWindow(pages);
        guestDomains = new Domain[guests];
        guestMemory = new DomainMemory[guests];
        tables = new GrantTable[guests];
        expected = new byte[guests][];
        dataGpa = new long[guests];
        poolGpa = new long[guests];
        refs = new int[guests][pages];
        persistentWindow = new long[guests];
        byte[] data = new byte[pages * MachineMemory.PAGE_SIZE];
        for (int g = 0; g < guests; g++) {
            new java.util.Random(7 + g).nextBytes(data);
            expected[g] = java.util.Arrays.copyOf(data, payload);
            Domain d = hv.createDomain("guest" + g, "guest", 2L << 20, false);
            guestDomains[g] = d;
            DomainMemory m = new DomainMemory(d, machine.memory());
            guestMemory[g] = m;
            dataGpa[g] = m.allocate(pages);
            m.hostWrite(dataGpa[g], data, 0, data.length);
            poolGpa[g] = m.allocate(pages);
            GrantTable table = new GrantTable(machine.memory(), cpu.view(d.space()), m.allocate(1), 1);
            tables[g] = table;
            cpu.start(d.kernel());
            check(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, table.tableGpa(), 1, 0));
            long granted = mode == GrantMode.PERSISTENT ? poolGpa[g] : dataGpa[g];
            for (int p = 0; p < pages; p++) {
                refs[g][p] = table.allocate();
                table.grant(refs[g][p], back.id(), (granted >>> MachineMemory.PAGE_SHIFT) + p, true);
            }
        }
        cpu.start(back.kernel());
        if (mode == GrantMode.PERSISTENT) {
            for (int g = 0; g < guests; g++) {
                persistentWindow[g] = backMemory.allocateWindow(pages);
                writeMaps(g, persistentWindow[g]);
                markStatuses(0, GrantOps.MAP_BYTES, GrantOps.MAP_STATUS);
                check(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, opsGpa, pages, 0));
                for (int p = 0; p < pages; p++) {
                    short status = status(0, GrantOps.MAP_BYTES, GrantOps.MAP_STATUS, p);
                    if (status != GNTST_OKAY) {
                        throw new IllegalStateException("grant set-up failed: the persistent map of guest " + g + " page " + p
                            + " has status " + describe(status));
                    }
                }
            }
        }
        meter = new CoreMeter(new Cpu[] {cpu}, machine.iommu().iotlb(), machine.iommu().clock());
    }

    private static void check(long r) {
        if (r < 0) {
            throw new IllegalStateException("grant set-up failed: " + Errno.name(r));
        }
    }

    private static String describe(long status) {
        return status == NO_STATUS ? "unwritten" : status == GNTST_OKAY ? "GNTST_okay" : Errno.name(status);
    }

    /** Marks the status word of each of the {@code pages} operations of {@code bytes} from {@code base} in the ops page. */
    private void markStatuses(int base, int bytes, int statusOffset) {
        for (int p = 0; p < pages; p++) {
            memory.putShort(opsMa + base + (long) p * bytes + statusOffset, NO_STATUS);
        }
    }

    private short status(int base, int bytes, int statusOffset, int p) {
        return memory.getShort(opsMa + base + (long) p * bytes + statusOffset);
    }

    /** Counts a failed operation; the first one is kept for the check's message. */
    private void failed(int what, int page, long status) {
        if (failures++ == 0) {
            failedWhat = what;
            failedPage = page;
            failedStatus = status;
        }
    }

    /** Counts each operation whose status is not GNTST_okay. */
    private void checkStatuses(int base, int bytes, int statusOffset, int what) {
        for (int p = 0; p < pages; p++) {
            short status = status(base, bytes, statusOffset, p);
            if (status != GNTST_OKAY) {
                failed(what, p, status);
            }
        }
    }

    private void writeMaps(int g, long host) {
        for (int p = 0; p < pages; p++) {
            long op = cpu.translate(back.space(), opsGpa + (long) p * GrantOps.MAP_BYTES, Translation.WRITE);
            memory.putLong(op + GrantOps.MAP_HOST, host + ((long) p << MachineMemory.PAGE_SHIFT));
            memory.putInt(op + GrantOps.MAP_FLAGS, GrantOps.MAP_READONLY);
            memory.putInt(op + GrantOps.MAP_REF, refs[g][p]);
            memory.putShort(op + GrantOps.MAP_DOM, (short) guestDomains[g].id());
        }
    }

    /** Marks the back end's buffer and starts the iteration's tallies. */
    @Setup(Level.Iteration)
    public void startIteration() {
        for (int p = 0; p < pages; p++) {
            memory.setMemory(bufferMa[p], MachineMemory.PAGE_SIZE, NO_DATA);
        }
        moves = 0;
        failures = 0;
    }

    @Benchmark
    public int move(Bytes counters, OpCounters ops) {
        int g = next;
        next = next + 1 == guests ? 0 : next + 1;
        meter.begin(0);
        int result;
        switch (mode) {
            case MAP: {
                writeMaps(g, windowGpa);
                markStatuses(0, GrantOps.MAP_BYTES, GrantOps.MAP_STATUS);
                result = (int) hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, opsGpa, pages, 0);
                if (result != 0) {
                    failed(MAP_CALL, -1, result);
                }
                checkStatuses(0, GrantOps.MAP_BYTES, GrantOps.MAP_STATUS, MAP_STATUS);
                int read = cpu.copy(back.space(), windowGpa, back.space(), bufferGpa, payload);
                if (read != 0) {
                    failed(BACK_END_READ, -1, read);
                }
                result |= read;
                for (int p = 0; p < pages; p++) {
                    long op = cpu.translate(back.space(), opsGpa + (long) p * GrantOps.MAP_BYTES, Translation.READ | Translation.WRITE);
                    int handle = memory.getInt(op + GrantOps.MAP_HANDLE);
                    long unmap = cpu.translate(back.space(), opsGpa + UNMAP_OPS + (long) p * GrantOps.UNMAP_BYTES, Translation.WRITE);
                    memory.putLong(unmap + GrantOps.UNMAP_HOST, windowGpa + ((long) p << MachineMemory.PAGE_SHIFT));
                    memory.putInt(unmap + GrantOps.UNMAP_HANDLE, handle);
                }
                markStatuses(UNMAP_OPS, GrantOps.UNMAP_BYTES, GrantOps.UNMAP_STATUS);
                int unmapped = (int) hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_UNMAP, opsGpa + UNMAP_OPS, pages, 0);
                if (unmapped != 0) {
                    failed(UNMAP_CALL, -1, unmapped);
                }
                checkStatuses(UNMAP_OPS, GrantOps.UNMAP_BYTES, GrantOps.UNMAP_STATUS, UNMAP_STATUS);
                result |= unmapped;
                counters.hypercalls += 2;
                break;
            }
            case COPY: {
                int left = payload;
                for (int p = 0; p < pages; p++) {
                    long op = cpu.translate(back.space(), opsGpa + (long) p * GrantOps.COPY_BYTES, Translation.WRITE);
                    memory.putInt(op + GrantOps.COPY_SRC_REF, refs[g][p]);
                    memory.putShort(op + GrantOps.COPY_SRC_DOM, (short) guestDomains[g].id());
                    memory.putShort(op + GrantOps.COPY_SRC_OFFSET, (short) 0);
                    memory.putInt(op + GrantOps.COPY_DST_REF, (int) (bufferGpa >>> MachineMemory.PAGE_SHIFT) + p);
                    memory.putShort(op + GrantOps.COPY_DST_DOM, (short) back.id());
                    memory.putShort(op + GrantOps.COPY_DST_OFFSET, (short) 0);
                    memory.putShort(op + GrantOps.COPY_LENGTH, (short) Math.min(left, MachineMemory.PAGE_SIZE));
                    memory.putShort(op + GrantOps.COPY_FLAGS, (short) GrantOps.COPY_SOURCE_GREF);
                    left -= MachineMemory.PAGE_SIZE;
                }
                markStatuses(0, GrantOps.COPY_BYTES, GrantOps.COPY_STATUS);
                result = (int) hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, opsGpa, pages, 0);
                if (result != 0) {
                    failed(COPY_CALL, -1, result);
                }
                checkStatuses(0, GrantOps.COPY_BYTES, GrantOps.COPY_STATUS, COPY_STATUS);
                counters.hypercalls++;
                break;
            }
            default: {
                // The guest copies its data into the persistently granted pages, the back end reads them.
                Domain d = guestDomains[g];
                result = cpu.copy(d.space(), dataGpa[g], d.space(), poolGpa[g], payload);
                if (result != 0) {
                    failed(GUEST_COPY, -1, result);
                }
                int read = cpu.copy(back.space(), persistentWindow[g], back.space(), bufferGpa, payload);
                if (read != 0) {
                    failed(BACK_END_READ, -1, read);
                }
                result |= read;
            }
        }
        meter.end(ops, 1, 0);
        counters.bytes += payload;
        moves++;
        lastGuest = g;
        return result;
    }

    /**
     * Fails the run unless the iteration's moves did their work: at least one, none failed (every
     * hypercall returned 0 and every status was GNTST_okay), the buffer holds the last guest's bytes,
     * no map is left in the window, and only the persistent grants are pinned.
     */
    @TearDown(Level.Iteration)
    public void checkIteration() {
        String what = "GrantBench grantMode=" + grantMode + ", payload=" + payload + ", guests=" + guests + ": ";
        if (moves == 0) {
            throw new IllegalStateException(what + "no operation ran in the iteration");
        }
        if (failures != 0) {
            throw new IllegalStateException(what + failures + " failures in " + moves + " operations; the first: "
                + FAILURES[failedWhat] + (failedPage >= 0 ? " of page " + failedPage : "") + " was " + describe(failedStatus));
        }
        byte[] bytes = expected[lastGuest];
        for (int i = 0; i < payload; i++) {
            byte b = memory.getByte(bufferMa[i >>> MachineMemory.PAGE_SHIFT] + (i & MachineMemory.PAGE_MASK));
            if (b != bytes[i]) {
                throw new IllegalStateException(what + "byte " + i + " of the back end's buffer is " + b + ", not guest "
                    + lastGuest + "'s " + bytes[i] + (b == NO_DATA ? " (never written in the iteration)" : ""));
            }
        }
        if (mode == GrantMode.MAP) {
            for (int p = 0; p < pages; p++) {
                if (back.space().table().translate(windowGpa + ((long) p << MachineMemory.PAGE_SHIFT)) >= 0) {
                    throw new IllegalStateException(what + "page " + p + " of the window is still mapped after the unmap");
                }
            }
        }
        int pinnedPerGuest = mode == GrantMode.PERSISTENT ? pages : 0;
        for (int g = 0; g < guests; g++) {
            int pinned = grantOps.pinned(guestDomains[g]);
            if (pinned != pinnedPerGuest) {
                throw new IllegalStateException(what + "guest " + g + " has " + pinned + " frames pinned, not " + pinnedPerGuest);
            }
        }
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        machine.close();
    }
}
