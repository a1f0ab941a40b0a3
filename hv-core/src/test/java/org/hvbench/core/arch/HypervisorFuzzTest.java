package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VmExit;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;

/**
 * An unprivileged domain does whatever the fuzzer says: any hypercall with any arguments (drawn from
 * its own pages, edge values and raw longs), trapped writes to any device register, and any bytes in
 * its own pages (queue headers, requests, commands). After every input: nothing escaped the
 * hypervisor as an exception, no frame of another domain and no disk byte outside the attacker's
 * virtual disk changed, every domain still owns as many frames as before, and the well-behaved guest's
 * I/O still returns exact data.
 *
 * <p>{@code mvn verify} replays the committed inputs (regression mode). To fuzz for real:
 * {@code JAZZER_FUZZ=1 mvn -pl hv-core test -Dtest=HypervisorFuzzTest}; new findings are written
 * next to the committed inputs.
 */
class HypervisorFuzzTest {
    private static final long DISK_BYTES = 4L << 20;
    private static final long ATTACKER_FIRST = DISK_BYTES / 512 / 2;
    private static final int ATTACKER_PAGES = 16;
    private static Fixture fixture;

    /** One machine for every input of a run: building it per input would fuzz nothing but start-up. */
    private static final class Fixture {
        final IoPath path;
        final Hypervisor hv;
        final Cpu cpu;
        final Domain attacker;
        final DomainMemory attackerMemory;
        final long[] pages = new long[ATTACKER_PAGES];
        final InlineExecutor executor;
        final IoDriver good;
        final long goodWrite;
        final long goodRead;

        Fixture() {
            path = Placement.HYPERVISOR_PV.open(MachineConfig.defaults().memory(40L << 20).diskBytes(DISK_BYTES), 2);
            hv = ((HypervisorPlacement) path).hypervisor();
            cpu = path.cpu();
            hv.blockDriver().assignDisk(((HypervisorPlacement) path).guest(), 0, ATTACKER_FIRST);
            attacker = hv.createDomain("attacker", "attacker", 1L << 20, false);
            hv.blockDriver().assignDisk(attacker, ATTACKER_FIRST, ATTACKER_FIRST);
            attacker.setMmioHandler(hv.blockDriver());
            attackerMemory = new DomainMemory(attacker, path.machine().memory());
            for (int i = 0; i < ATTACKER_PAGES; i++) {
                pages[i] = attackerMemory.allocate(1);
            }
            executor = new InlineExecutor(path);
            good = new IoDriver(path);
            goodWrite = good.buffer(8192, 512);
            goodRead = good.buffer(8192, 0);
        }
    }

    private static long argument(FuzzedDataProvider data, Fixture f) {
        switch (data.consumeInt(0, 7)) {
            case 0: return f.pages[data.consumeInt(0, ATTACKER_PAGES - 1)];
            case 1: return f.pages[data.consumeInt(0, ATTACKER_PAGES - 1)] + data.consumeInt(0, MachineMemory.PAGE_SIZE);
            case 2: return data.consumeInt(-2, 40);
            case 3: return data.pickValue(new long[] {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32, 1L << 40,
                Integer.MAX_VALUE, 0xFFFF_FFFFL});
            case 4: return f.attacker.memoryBytes() + data.consumeInt(-8192, 8192);
            case 5: return data.consumeInt(0, 8);
            default: return data.consumeLong();
        }
    }

    @FuzzTest(maxDuration = "30s")
    void anUnprivilegedDomainCannotBreakTheHypervisor(FuzzedDataProvider data) {
        if (fixture == null) {
            fixture = new Fixture();
        }
        Fixture f = fixture;
        MachineSnapshot before = MachineSnapshot.of(f.path.machine(), f.attacker.id(), ATTACKER_FIRST * 512, DISK_BYTES);
        FrameAllocator frames = f.path.machine().frames();
        int[] owned = ownedFrames(frames, f);

        int actions = data.consumeInt(1, 12);
        for (int n = 0; n < actions && data.remainingBytes() > 0; n++) {
            switch (data.consumeInt(0, 4)) {
                case 0: {
                    int op = data.pickValue(new int[] {Hypercall.BLOCK_IO, Hypercall.BLOCK_IO, Hypercall.MULTICALL,
                        Hypercall.CONSOLE_IO, data.consumeInt()});
                    long a0 = data.consumeBoolean() ? data.consumeInt(-1, 3) : argument(data, f);
                    long a1 = argument(data, f);
                    long a2 = argument(data, f);
                    long a3 = argument(data, f);
                    f.cpu.start(f.attacker.kernel());
                    f.hv.hypercall(f.cpu, op, a0, a1, a2, a3);
                    break;
                }
                case 1: {
                    int reason = data.consumeBoolean() ? VmExit.MMIO_WRITE : data.consumeInt();
                    int register = data.consumeInt(-1, 6);
                    long value = argument(data, f);
                    f.cpu.start(f.attacker.kernel());
                    f.hv.vmexit(f.cpu, reason, register, value);
                    break;
                }
                case 2: {
                    long page = f.pages[data.consumeInt(0, ATTACKER_PAGES - 1)];
                    int offset = data.consumeInt(0, MachineMemory.PAGE_SIZE - 1);
                    byte[] bytes = data.consumeBytes(MachineMemory.PAGE_SIZE - offset);
                    f.attackerMemory.hostWrite(page + offset, bytes, 0, bytes.length);
                    break;
                }
                case 3: {
                    // A hypercall from the attacker's user level must be refused outright.
                    f.cpu.start(f.attacker.app());
                    assertEquals(-1, Long.signum(f.hv.hypercall(f.cpu, data.consumeInt(), argument(data, f), 0, 0, 0)));
                    break;
                }
                default:
                    f.cpu.start(f.path.app().kernel().appContext());
                    f.executor.runUntilIdle();
            }
        }
        f.cpu.start(f.path.app().kernel().appContext());
        f.executor.runUntilIdle();

        before.assertUnchanged(f.path.machine(), "after the attacker's turn");
        assertArrayEquals(owned, ownedFrames(frames, f), "frames owned by the hypervisor and each domain");
        byte[] expected = new byte[8192];
        new Random(data.remainingBytes()).nextBytes(expected);
        assertEquals(8192, f.good.write(4096, f.goodWrite, expected));
        assertArrayEquals(expected, f.good.read(4096, f.goodRead, 8192), "the well-behaved guest's data");
    }

    private static int[] ownedFrames(FrameAllocator frames, Fixture f) {
        return new int[] {frames.countOwnedBy(FrameAllocator.OWNER_HYPERVISOR), frames.countOwnedBy(f.hv.dom0().id()),
            frames.countOwnedBy(f.attacker.id()), frames.countOwnedBy(((HypervisorPlacement) f.path).guest().id())};
    }
}
