package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.ChannelCommand;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VmExit;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;

/**
 * Channel programs from a hostile domain: any chain the fuzzer writes (commands, flags, counts,
 * sectors, addresses, TICs anywhere) started with any addresses, against both variants. In
 * {@code channel-program} the hypervisor parses the chain: the attacker shares the device with a
 * well-behaved guest and has its own virtual disk. In {@code channel-program-iommu} the device parses
 * it: the attacker owns the device and a victim domain sits beside it. After every input: no
 * exception escaped, no frame of any other domain changed, in the first variant no disk byte outside
 * the attacker's virtual disk changed, frame ownership is unchanged, and a guest's I/O through its
 * driver still returns exact data.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz for real:
 * {@code JAZZER_FUZZ=1 mvn -pl hv-core test -Dtest=ChannelFuzzTest}.
 */
class ChannelFuzzTest {
    private static final long DISK_BYTES = 1L << 20;
    private static final long HALF = DISK_BYTES / 512 / 2;
    private static final int PAGES = 8;
    private static final Fixture[] FIXTURES = new Fixture[2];

    /** A machine, an attacker with pages to write chains into, and a guest whose I/O must keep working. */
    private static final class Fixture {
        final boolean iommu;
        final IoPath path;
        final Hypervisor hv;
        final Cpu cpu;
        final Domain attacker;
        final Domain bystander;
        final DomainMemory attackerMemory;
        final long[] pages = new long[PAGES];
        final InlineExecutor executor;
        final IoDriver good;
        final long goodWrite;
        final long goodRead;

        Fixture(boolean iommu) {
            this.iommu = iommu;
            MachineConfig config = MachineConfig.defaults().memory(24L << 20).diskBytes(DISK_BYTES);
            path = (iommu ? Placement.CHANNEL_PROGRAM_IOMMU : Placement.CHANNEL_PROGRAM).open(config, 2);
            ChannelPlacement p = (ChannelPlacement) path;
            hv = p.hypervisor();
            cpu = path.cpu();
            if (iommu) {
                // The attacker is the guest that owns the device; a victim domain sits beside it.
                attacker = p.guest();
                attackerMemory = (DomainMemory) path.app().memory();
                bystander = hv.createDomain("victim", "victim", 1L << 20, false);
                DomainMemory victim = new DomainMemory(bystander, path.machine().memory());
                byte[] marks = new byte[(int) bystander.memoryBytes() - MachineMemory.PAGE_SIZE];
                new Random(5).nextBytes(marks);
                victim.hostWrite(MachineMemory.PAGE_SIZE, marks, 0, marks.length);
            } else {
                // The attacker shares the hypervisor's device with the well-behaved guest.
                bystander = p.guest();
                hv.blockDriver().assignDisk(bystander, 0, HALF);
                attacker = hv.createDomain("attacker", "attacker", 1L << 20, false);
                hv.blockDriver().assignDisk(attacker, HALF, HALF);
                attacker.setChannelHandler(hv.blockDriver());
                attackerMemory = new DomainMemory(attacker, path.machine().memory());
            }
            for (int i = 0; i < PAGES; i++) {
                pages[i] = attackerMemory.allocate(1);
            }
            executor = new InlineExecutor(path);
            good = new IoDriver(path);
            goodWrite = good.buffer(8192, 512);
            goodRead = good.buffer(8192, 0);
        }

        long address(FuzzedDataProvider data) {
            switch (data.consumeInt(0, 5)) {
                case 0: return pages[data.consumeInt(0, PAGES - 1)];
                case 1: return pages[data.consumeInt(0, PAGES - 1)] + 16L * data.consumeInt(0, 255);
                case 2: return pages[data.consumeInt(0, PAGES - 1)] + data.consumeInt(0, MachineMemory.PAGE_SIZE);
                case 3: return data.pickValue(new long[] {0, -16, Long.MIN_VALUE, 1L << 40, attacker.memoryBytes(),
                    attacker.windowStart(), bystander.memoryBytes() - MachineMemory.PAGE_SIZE});
                case 4: return (long) data.consumeInt(0, 1 << 20) << 4;
                default: return data.consumeLong();
            }
        }

        /** Writes one command, mostly plausible, at a command slot of one of the attacker's pages. */
        void writeCommand(FuzzedDataProvider data) {
            long at = pages[data.consumeInt(0, PAGES - 1)] + 16L * data.consumeInt(0, 255);
            byte[] ccw = new byte[ChannelCommand.BYTES];
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(ccw).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.put(ChannelCommand.COMMAND, (byte) data.pickValue(new int[] {ChannelCommand.READ, ChannelCommand.WRITE,
                ChannelCommand.CONTROL, ChannelCommand.TIC, data.consumeInt(0, 255)}));
            b.put(ChannelCommand.FLAGS, data.consumeBoolean() ? (byte) ChannelCommand.CC : data.consumeByte());
            b.putShort(ChannelCommand.COUNT, (short) data.pickValue(new int[] {512, 4096, 0, data.consumeInt(0, 65535)}));
            b.putInt(ChannelCommand.SECTOR, data.consumeBoolean() ? data.consumeInt(0, (int) (2 * HALF)) : data.consumeInt());
            b.putLong(ChannelCommand.ADDRESS, address(data));
            attackerMemory.hostWrite(at, ccw, 0, ccw.length);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void aHostileChannelProgramMovesNothingItMayNot(FuzzedDataProvider data) {
        int which = data.consumeInt(0, 1);
        if (FIXTURES[which] == null) {
            FIXTURES[which] = new Fixture(which == 1);
        }
        Fixture f = FIXTURES[which];
        MachineSnapshot before = f.iommu
            ? MachineSnapshot.of(f.path.machine(), f.attacker.id(), 0, DISK_BYTES)
            : MachineSnapshot.of(f.path.machine(), f.attacker.id(), HALF * 512, DISK_BYTES);
        FrameAllocator frames = f.path.machine().frames();
        int[] owned = ownedFrames(frames, f);

        int actions = data.consumeInt(1, 16);
        for (int n = 0; n < actions && data.remainingBytes() > 0; n++) {
            switch (data.consumeInt(0, 3)) {
                case 0:
                case 1:
                    f.writeCommand(data);
                    break;
                case 2: {
                    long chain = f.address(data);
                    long status = f.address(data);
                    f.cpu.start(f.attacker.kernel());
                    f.hv.vmexit(f.cpu, VmExit.START_IO, chain, status);
                    break;
                }
                default:
                    f.cpu.start(f.path.app().kernel().appContext());
                    f.executor.runUntilIdle();
            }
        }
        f.cpu.start(f.path.app().kernel().appContext());
        f.executor.runUntilIdle();

        before.assertUnchanged(f.path.machine(), "after the attacker's chains");
        assertArrayEquals(owned, ownedFrames(frames, f), "frames owned by the hypervisor and each domain");
        byte[] expected = new byte[8192];
        new Random(data.remainingBytes()).nextBytes(expected);
        assertEquals(8192, f.good.write(4096, f.goodWrite, expected));
        assertArrayEquals(expected, f.good.read(4096, f.goodRead, 8192), "the guest's own I/O");
    }

    private static int[] ownedFrames(FrameAllocator frames, Fixture f) {
        return new int[] {frames.countOwnedBy(FrameAllocator.OWNER_HYPERVISOR), frames.countOwnedBy(f.hv.dom0().id()),
            frames.countOwnedBy(f.attacker.id()), frames.countOwnedBy(f.bystander.id())};
    }
}
