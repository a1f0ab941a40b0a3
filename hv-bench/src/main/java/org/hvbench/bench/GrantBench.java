package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

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
 * The {@code bytes} counter is payload bytes per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class GrantBench {
    @Param({"map", "copy", "persistent"})
    public String grantMode;

    @Param({"512", "4096", "65536"})
    public int payload;

    @Param({"1", "16"})
    public int guests;

    @Param({"false"})
    public boolean tlbTagged;

    private Machine machine;
    private Hypervisor hv;
    private Cpu cpu;
    private GrantMode mode;
    private Domain back;
    private DomainMemory backMemory;
    private Domain[] guestDomains;
    private DomainMemory[] guestMemory;
    private long[] dataGpa;
    private long[] poolGpa;
    private int[][] refs;
    private long[] persistentWindow;
    private long bufferGpa;
    private long opsGpa;
    private long windowGpa;
    private int pages;
    private int next;

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
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        new GrantOps(hv);
        back = hv.createDomain("back", "back", 4L << 20, false);
        backMemory = new DomainMemory(back, machine.memory());
        bufferGpa = backMemory.allocate(pages);
        opsGpa = backMemory.allocate(1);
        windowGpa = backMemory.allocateWindow(pages);
        guestDomains = new Domain[guests];
        guestMemory = new DomainMemory[guests];
        dataGpa = new long[guests];
        poolGpa = new long[guests];
        refs = new int[guests][pages];
        persistentWindow = new long[guests];
        byte[] data = new byte[pages * MachineMemory.PAGE_SIZE];
        new java.util.Random(7).nextBytes(data);
        for (int g = 0; g < guests; g++) {
            Domain d = hv.createDomain("guest" + g, "guest", 2L << 20, false);
            guestDomains[g] = d;
            DomainMemory m = new DomainMemory(d, machine.memory());
            guestMemory[g] = m;
            dataGpa[g] = m.allocate(pages);
            m.hostWrite(dataGpa[g], data, 0, data.length);
            poolGpa[g] = m.allocate(pages);
            GrantTable table = new GrantTable(machine.memory(), cpu.view(d.space()), m.allocate(1), 1);
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
                check(hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, opsGpa, pages, 0));
            }
        }
    }

    private static void check(long r) {
        if (r < 0) {
            throw new IllegalStateException("grant set-up failed: " + org.hvbench.core.Errno.name(r));
        }
    }

    private void writeMaps(int g, long host) {
        MachineMemory memory = machine.memory();
        for (int p = 0; p < pages; p++) {
            long op = cpu.translate(back.space(), opsGpa + (long) p * GrantOps.MAP_BYTES, Translation.WRITE);
            memory.putLong(op + GrantOps.MAP_HOST, host + ((long) p << MachineMemory.PAGE_SHIFT));
            memory.putInt(op + GrantOps.MAP_FLAGS, GrantOps.MAP_READONLY);
            memory.putInt(op + GrantOps.MAP_REF, refs[g][p]);
            memory.putShort(op + GrantOps.MAP_DOM, (short) guestDomains[g].id());
        }
    }

    @Benchmark
    public int move(Bytes counters) {
        int g = next;
        next = next + 1 == guests ? 0 : next + 1;
        MachineMemory memory = machine.memory();
        int result;
        switch (mode) {
            case MAP: {
                writeMaps(g, windowGpa);
                result = (int) hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, opsGpa, pages, 0);
                result |= cpu.copy(back.space(), windowGpa, back.space(), bufferGpa, payload);
                for (int p = 0; p < pages; p++) {
                    long op = cpu.translate(back.space(), opsGpa + (long) p * GrantOps.MAP_BYTES, Translation.READ | Translation.WRITE);
                    int handle = memory.getInt(op + GrantOps.MAP_HANDLE);
                    long unmap = cpu.translate(back.space(), opsGpa + 2048 + (long) p * GrantOps.UNMAP_BYTES, Translation.WRITE);
                    memory.putLong(unmap + GrantOps.UNMAP_HOST, windowGpa + ((long) p << MachineMemory.PAGE_SHIFT));
                    memory.putInt(unmap + GrantOps.UNMAP_HANDLE, handle);
                }
                result |= (int) hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_UNMAP, opsGpa + 2048, pages, 0);
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
                result = (int) hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_COPY, opsGpa, pages, 0);
                counters.hypercalls++;
                break;
            }
            default: {
                // The guest copies its data into the persistently granted pages, the back end reads them.
                Domain d = guestDomains[g];
                result = cpu.copy(d.space(), dataGpa[g], d.space(), poolGpa[g], payload);
                result |= cpu.copy(back.space(), persistentWindow[g], back.space(), bufferGpa, payload);
            }
        }
        counters.bytes += payload;
        return result;
    }

    @TearDown(Level.Trial)
    public void shutdown() {
        machine.close();
    }
}
