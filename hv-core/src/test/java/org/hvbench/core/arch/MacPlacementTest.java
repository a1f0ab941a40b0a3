package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.sec.AccessControlModule;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every placement under sHype ({@code mac=ste}, {@code mac=chwall-ste}): it boots under the
 * placement policy, its I/O completes, and the data path is untouched: the same crossings and the same
 * modelled time per batch as without access control, in every grant mode (map and copy ask the
 * module on every request; the decision is not on the modelled CPU).
 */
class MacPlacementTest {
    @ParameterizedTest
    @EnumSource(value = Placement.class, names = "NATIVE", mode = EnumSource.Mode.EXCLUDE)
    void theHooksSitAtBindTimeAndTheDataPathIsTheSame(Placement p) {
        GrantMode[] modes = p == Placement.IO_PARTITION || p == Placement.DOM0_EMULATOR ? GrantMode.values()
            : new GrantMode[] {GrantMode.PERSISTENT};
        for (GrantMode mode : modes) {
            long[] off = batch(p, mode, "off");
            for (String mac : new String[] {"ste", "chwall-ste"}) {
                long[] on = batch(p, mode, mac);
                assertEquals(off[0], on[0], p + " " + mode + " mac=" + mac + ": crossings per batch");
                assertEquals(off[1], on[1], p + " " + mode + " mac=" + mac + ": modelled picoseconds per batch");
            }
        }
    }

    /** Crossings and modelled picoseconds of the third batch of four 8 KiB reads and writes. */
    private static long[] batch(Placement p, GrantMode mode, String mac) {
        try (IoPath path = p.open(MachineConfig.defaults().mac(mac), 4, mode)) {
            if (!"off".equals(mac)) {
                Hypervisor hv = hypervisor(path);
                assertTrue(hv.accessControl() instanceof AccessControlModule, p + ": mac=" + mac + " installs the module");
                IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> hv.createDomain("stranger", "no-such-label", 1L << 20, false));
                assertTrue(e.getMessage().contains("access control refused"), e.getMessage());
            }
            InlineExecutor executor = new InlineExecutor(path);
            long buffer = path.app().allocateBuffer(4 * 8192);
            for (int i = 0; i < 4; i++) {
                path.app().prepare(path.cpu(), i, i % 2 == 0 ? Aio.PREAD : Aio.PWRITE, i * 8192L, buffer + i * 8192L, 8192, i);
            }
            executor.runBatch(4);
            executor.runBatch(4);
            long crossings = path.crossings();
            long picos = path.modelledPicos();
            executor.runBatch(4);
            assertEquals(0, path.app().errors(), p + " " + mode + " mac=" + mac);
            return new long[] {path.crossings() - crossings, path.modelledPicos() - picos};
        }
    }

    /**
     * How often the hypervisor asks the module during the steady state: every sharing hook counted for
     * a batch of four requests. With persistent grants (the pool granted and mapped at connection) and
     * for the placements that share no pages per request, never; with map and copy grants, once per
     * request (each request's grant map or copy is a sharing hook, answered from the permit cache).
     */
    @ParameterizedTest
    @EnumSource(value = Placement.class, names = "NATIVE", mode = EnumSource.Mode.EXCLUDE)
    void inTheSteadyStateTheModuleIsAskedNothingUnlessEachRequestMapsOrCopies(Placement p) {
        GrantMode[] modes = p == Placement.IO_PARTITION || p == Placement.DOM0_EMULATOR ? GrantMode.values()
            : new GrantMode[] {GrantMode.PERSISTENT};
        for (GrantMode mode : modes) {
            try (IoPath path = p.open(MachineConfig.defaults().mac("ste"), 4, mode)) {
                Hypervisor hv = hypervisor(path);
                Counting counting = new Counting(hv.accessControl());
                hv.setAccessControl(counting.proxy);
                InlineExecutor executor = new InlineExecutor(path);
                long buffer = path.app().allocateBuffer(4 * 8192);
                for (int i = 0; i < 4; i++) {
                    path.app().prepare(path.cpu(), i, Aio.PREAD, i * 8192L, buffer + i * 8192L, 8192, i);
                }
                executor.runBatch(4);
                long before = counting.calls;
                executor.runBatch(4);
                assertEquals(0, path.app().errors());
                long perBatch = counting.calls - before;
                if (mode == GrantMode.PERSISTENT) {
                    assertEquals(0, perBatch, p + " " + mode + ": hooks in a steady-state batch");
                } else {
                    assertTrue(perBatch >= 4, p + " " + mode + ": each request's grant operation asks, " + perBatch + " hooks");
                }
            }
        }
    }

    /**
     * Counts every hook the hypervisor asks (each method with a verdict; the creation and destruction
     * notices are not questions) and answers as the module does: a proxy over the interface, so that
     * every hook, present and future, is counted.
     */
    private static final class Counting {
        final org.hvbench.core.hv.AccessControl proxy;
        long calls;

        Counting(org.hvbench.core.hv.AccessControl inner) {
            proxy = (org.hvbench.core.hv.AccessControl) java.lang.reflect.Proxy.newProxyInstance(
                org.hvbench.core.hv.AccessControl.class.getClassLoader(), new Class<?>[] {org.hvbench.core.hv.AccessControl.class},
                (self, method, args) -> {
                    if (method.getReturnType() == int.class) {
                        calls++;
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        }
    }

    static Hypervisor hypervisor(IoPath path) {
        if (path instanceof HypervisorPlacement) {
            return ((HypervisorPlacement) path).hypervisor();
        } else if (path instanceof IoPartitionPlacement) {
            return ((IoPartitionPlacement) path).hypervisor();
        } else if (path instanceof EmulatorPlacement) {
            return ((EmulatorPlacement) path).hypervisor();
        } else if (path instanceof PassthroughPlacement) {
            return ((PassthroughPlacement) path).hypervisor();
        }
        return ((ChannelPlacement) path).hypervisor();
    }
}
