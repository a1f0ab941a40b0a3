package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.guest.Kernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * dom0-emulator with more than one guest: an emulator per guest, each a process of the partition's
 * kernel with a completion queue of its own, sharing the kernel's slots, its driver and the device.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EmulatorGuestsTest {
    private static final int SECTORS = 2048;

    /**
     * Four guests, each with its own extent of the disk and eight writes in flight at once: each
     * write lands in its own guest's extent, and each emulator's completions reach only its own
     * guest. Up to six control blocks per emulator against a device queue of 16 entries: the
     * emulators must wait for room in the shared kernel, and every write still completes once.
     */
    @Test
    void eachGuestsEmulatorServesItsOwnExtentAndWaitsItsTurnForTheDevice() {
        int guests = 4;
        int writes = 8;
        int bytes = 4096;
        MachineConfig config = MachineConfig.defaults().memory(128L << 20).diskBytes((long) guests * SECTORS * 512).queueEntries(16);
        long[] seen = new long[guests];
        try (EmulatorPlacement p = (EmulatorPlacement) Placement.DOM0_EMULATOR.open(config, 1, GrantMode.PERSISTENT,
                 CpuLayout.ONE_CPU)) {
            EmulatorPlacement.Guest[] g = new EmulatorPlacement.Guest[guests];
            for (int k = 0; k < guests; k++) {
                int who = k;
                g[k] = p.addGuest("g" + k, writes, (long) k * SECTORS, SECTORS, (c, id, r) -> seen[who]++);
            }
            assertEquals(guests + 1, p.partitionKernel().processes(), "the path's guest's emulator and one per added guest");
            InlineExecutor executor = new InlineExecutor(p);
            Random random = new Random(11);
            byte[][][] data = new byte[guests][writes][bytes];
            for (int k = 0; k < guests; k++) {
                App app = g[k].app;
                for (int i = 0; i < writes; i++) {
                    random.nextBytes(data[k][i]);
                    long buffer = app.allocateBuffer(bytes);
                    app.memory().hostWrite(buffer, data[k][i], 0, bytes);
                    app.prepare(p.cpu(), i, Aio.PWRITE, (long) i * bytes, buffer, bytes, i);
                }
            }
            // Every guest submits its eight before the machine runs: all of them compete for the device.
            for (int k = 0; k < guests; k++) {
                p.cpu().idleSwitch(g[k].app.kernel().appContext());
                assertEquals(writes, g[k].app.submit(p.cpu(), 0, writes), "guest " + k + ": io_submit");
            }
            for (int turns = 0; turns < 10_000 && Arrays.stream(seen).sum() < (long) guests * writes; turns++) {
                executor.runOnce();
            }
            assertTrue(p.partitionKernel().roomWaits() > 0, "up to 24 control blocks on a queue of 16: an emulator waited for room");
            for (int k = 0; k < guests; k++) {
                assertEquals(writes, seen[k], "guest " + k + "'s completions");
                assertEquals(0, g[k].app.errors(), "guest " + k + "'s errors");
                assertEquals(0, g[k].emulator.waitingForRoom(), "guest " + k + "'s emulator holds nothing back");
                for (int i = 0; i < writes; i++) {
                    byte[] disk = new byte[bytes];
                    p.machine().backing().peek((long) k * SECTORS * 512 + (long) i * bytes, disk, 0, bytes);
                    assertArrayEquals(data[k][i], disk, "guest " + k + " write " + i + " on the disk");
                }
            }
        }
    }

    @Test
    void theKernelRefusesAProcessAtKernelLevelAndKeepsItsFirstOne() {
        MachineConfig config = MachineConfig.defaults().memory(64L << 20).diskBytes(1L << 20);
        try (EmulatorPlacement p = (EmulatorPlacement) Placement.DOM0_EMULATOR.open(config, 1)) {
            Kernel k = p.partitionKernel();
            Context kernelLevel = new Context("not-a-process", p.partition().id(), PrivilegeLevel.KERNEL, p.partition().space());
            assertThrows(IllegalArgumentException.class, () -> k.newProcess(kernelLevel));
            assertThrows(IllegalArgumentException.class, () -> k.removeProcess(k.process()));
            Kernel.Process extra = k.newProcess(new Context("extra", p.partition().id(), PrivilegeLevel.USER, p.partition().space()));
            assertEquals(2, k.processes());
            k.removeProcess(extra);
            assertEquals(1, k.processes());
            assertThrows(IllegalArgumentException.class, () -> k.removeProcess(extra), "removed twice");
        }
    }

    @Test
    void thePathsOwnGuestCannotBeDestroyedWhileOthersRun() {
        MachineConfig config = MachineConfig.defaults().memory(64L << 20).diskBytes(1L << 20);
        try (EmulatorPlacement p = (EmulatorPlacement) Placement.DOM0_EMULATOR.open(config, 1)) {
            EmulatorPlacement.Guest other = p.addGuest("other", 1, 0, 1024, null);
            assertThrows(IllegalArgumentException.class, p::destroyGuest);
            assertThrows(IllegalArgumentException.class, () -> p.addGuest("past-the-end", 1, 1024, 1025, null));
            assertEquals(0, p.destroyGuest(other));
            assertEquals(1, p.emulatorsClosed());
            assertEquals(1, p.partitionKernel().processes(), "the dead guest's emulator left the kernel");
            assertThrows(IllegalArgumentException.class, () -> p.destroyGuest(other), "destroyed twice");
        }
    }
}
