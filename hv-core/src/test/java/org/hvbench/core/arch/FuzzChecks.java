package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.Translation;

/** What every fuzz target does after its attacker's turn, and how an attacker's kernel stores to its memory. */
final class FuzzChecks {
    /** Turns of the machine after which a run that still has work is taken for a loop a guest caused. */
    static final int IDLE_BOUND = 10_000;

    private FuzzChecks() {
    }

    /** Runs the parties until none has work; fails loudly when they never stop. */
    static void runUntilIdle(IoPath path, InlineExecutor executor) {
        path.cpu().start(path.app().kernel().appContext());
        for (int turn = 0; turn < IDLE_BOUND; turn++) {
            if (executor.runOnce() == 0) {
                return;
            }
        }
        fail("the machine still had work after " + IDLE_BOUND + " turns: a guest keeps a party busy for ever");
    }

    /**
     * The domain's kernel stores {@code bytes} at {@code gpa} through the CPU's translation, TLB
     * included, as the guest's own stores would: a stale TLB entry would let it through. Stops at the
     * first page it may not write; returns the bytes stored.
     */
    static int store(Cpu cpu, Domain d, long gpa, byte[] bytes) {
        MachineMemory memory = cpu.memory();
        int done = 0;
        while (done < bytes.length) {
            long at = gpa + done;
            long ma = cpu.translate(d.space(), at, Translation.WRITE);
            if (ma < 0) {
                break;
            }
            int chunk = (int) Math.min(bytes.length - done, MachineMemory.PAGE_SIZE - (at & MachineMemory.PAGE_MASK));
            memory.putBytes(ma, bytes, done, chunk);
            done += chunk;
        }
        return done;
    }

    /** The hypervisor's own tables ({@link Hypervisor#audit}) and every CPU TLB entry of every domain and of the hypervisor. */
    static void auditHypervisor(Hypervisor hv, Cpu[] cpus) {
        assertNull(hv.audit(), "the hypervisor's tables");
        MachineMemory memory = hv.machine().memory();
        for (Cpu cpu : cpus) {
            for (Domain d : hv.domains()) {
                PageTable p2m = d.space().table();
                assertNull(cpu.tlb().audit(d.space().asid(), memory, p2m.rootMa(), p2m.levels()), () -> cpu + "'s TLB for " + d);
            }
            PageTable own = hv.space().table();
            assertNull(cpu.tlb().audit(hv.space().asid(), memory, own.rootMa(), own.levels()), () -> cpu + "'s TLB for the hypervisor");
        }
    }

    /** The well-behaved guest writes {@code bytes} at {@code diskOffset} and reads them back exactly. */
    static void goodGuestIo(IoDriver good, long writeBuffer, long readBuffer, long diskOffset, int bytes, long seed) {
        byte[] expected = new byte[bytes];
        new Random(seed).nextBytes(expected);
        assertEquals(bytes, good.write(diskOffset, writeBuffer, expected), "the well-behaved guest's write");
        assertArrayEquals(expected, good.read(diskOffset, readBuffer, bytes), "the well-behaved guest's data");
    }
}
