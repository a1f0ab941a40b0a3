package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The trusted base's lists against the code that really runs: every class seen doing work in the
 * hypervisor, in the I/O partition or in a native kernel while a placement reads and writes must be on
 * the list of that level for that placement, with sHype off and on.
 */
class TrustedBaseTest {
    private static final Path SOURCES = TrustedBase.findSourceRoot(Paths.get(""));

    @ParameterizedTest
    @EnumSource(Placement.class)
    void everyClassThatRunsInATrustedContextIsOnItsList(Placement p) {
        for (GrantMode mode : p == Placement.IO_PARTITION || p == Placement.DOM0_EMULATOR ? GrantMode.values() : new GrantMode[] {GrantMode.PERSISTENT}) {
            Map<String, Set<String>> seen = run(p, mode, "off");
            for (Map.Entry<String, Set<String>> e : seen.entrySet()) {
                Set<String> allowed = listed(p, e.getKey(), "off");
                Set<String> missing = new TreeSet<>(e.getValue());
                missing.removeAll(allowed);
                assertEquals(Set.of(), missing, p + " (" + mode + "): classes run in the " + e.getKey() + " that its list lacks");
            }
            if (p != Placement.PASSTHROUGH_POSTED && p != Placement.CHANNEL_PROGRAM_IOMMU && p != Placement.PASSTHROUGH) {
                assertFalse(seen.isEmpty(), p + ": the probe saw no trusted code run: the check would pass on anything");
            }
            if (p == Placement.IO_PARTITION) {
                assertTrue(seen.get("partition").contains("guest.BlockBack"), "the back end runs in the partition: " + seen);
            }
        }
    }

    /**
     * With {@code mac=ste} the Policy Manager (dom0) reads the active policy and loads it again through
     * its hypercall after the I/O: the module copying the policy in and out is seen working in the
     * hypervisor, and is on the list with sHype but not on the one without. The module's decisions,
     * the decoder and the cache do no charged work, so the probe cannot see them; nor the compiler,
     * which runs on the host ({@code BasePlacement.installMac}): those lists are read from the code, and
     * {@link #everyClassOfSecIsOnAnShypeList} keeps them whole.
     */
    @ParameterizedTest
    @EnumSource(value = Placement.class, names = "NATIVE", mode = EnumSource.Mode.EXCLUDE)
    void withShypeTheModuleRunsInTheHypervisorAndEveryClassThatRunsIsOnItsList(Placement p) {
        for (GrantMode mode : p == Placement.IO_PARTITION || p == Placement.DOM0_EMULATOR ? GrantMode.values() : new GrantMode[] {GrantMode.PERSISTENT}) {
            Map<String, Set<String>> seen = run(p, mode, "ste");
            assertTrue(seen.getOrDefault("hypervisor", Set.of()).contains("sec.AccessControlModule"),
                p + " (" + mode + "): the probe did not see the module's load run in the hypervisor: " + seen);
            for (Map.Entry<String, Set<String>> e : seen.entrySet()) {
                Set<String> missing = new TreeSet<>(e.getValue());
                missing.removeAll(listed(p, e.getKey(), "ste"));
                assertEquals(Set.of(), missing, p + " (" + mode + ", mac=ste): classes run in the " + e.getKey() + " that its list lacks");
            }
            assertFalse(listed(p, "hypervisor", "off").contains("sec.AccessControlModule"), p + ": sHype off lists the module");
        }
    }

    /** Every class of sHype's package is on the module's or the Policy Manager's list, so none is left uncounted. */
    @Test
    void everyClassOfSecIsOnAnShypeList() throws IOException {
        Set<String> listed = new TreeSet<>(TrustedBase.Part.ACCESS_CONTROL.classes());
        listed.addAll(TrustedBase.Part.POLICY_MANAGER.classes());
        Set<String> sec = new TreeSet<>();
        try (Stream<Path> files = Files.list(SOURCES.resolve("org/hvbench/core/sec"))) {
            files.map(f -> "sec." + f.getFileName().toString().replaceFirst("\\.java$", "")).forEach(sec::add);
        }
        assertTrue(sec.contains("sec.AccessControlModule"), "the sec package is not where it was: " + sec);
        Set<String> unlisted = new TreeSet<>(sec);
        unlisted.removeAll(listed);
        assertEquals(Set.of(), unlisted, "classes of sec on neither ACCESS_CONTROL nor POLICY_MANAGER");
    }

    /** sHype adds the module and the Policy Manager to every placement with a hypervisor, whichever its kind; native stays. */
    @Test
    void shypeAddsItsPartsWhereThereIsAHypervisor() {
        for (Placement p : Placement.values()) {
            assertEquals(TrustedBase.parts(p), TrustedBase.parts(p, "off"), p + ": mac=off");
            assertEquals(TrustedBase.parts(p, "ste"), TrustedBase.parts(p, "chwall-ste"), p + ": the two kinds run the same code");
            Set<TrustedBase.Part> added = EnumSet.copyOf(TrustedBase.parts(p, "ste"));
            added.removeAll(TrustedBase.parts(p));
            int off = TrustedBase.lines(SOURCES, p);
            int on = TrustedBase.lines(SOURCES, p, "ste");
            if (p == Placement.NATIVE) {
                assertEquals(Set.of(), added, "native has no hypervisor to add sHype to");
                assertEquals(off, on);
            } else {
                assertEquals(EnumSet.of(TrustedBase.Part.ACCESS_CONTROL, TrustedBase.Part.POLICY_MANAGER), added, p.toString());
                assertTrue(on > off, p + ": " + on + " lines with sHype, " + off + " without");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> TrustedBase.parts(Placement.HYPERVISOR_PV, "selinux"));
    }

    @Test
    void everyListedClassExistsWithItsSourceFile() throws ClassNotFoundException {
        assertNotNull(SOURCES, "hv-core's sources are not found from " + Paths.get("").toAbsolutePath());
        for (TrustedBase.Part part : TrustedBase.Part.values()) {
            for (String c : part.classes()) {
                Class.forName("org.hvbench.core." + c);
                assertTrue(Files.isRegularFile(TrustedBase.files(SOURCES, Set.of(c)).get(0)), part + ": no source file for " + c);
            }
        }
    }

    /**
     * Karger and Safford, sections 3.2 and 4.1: the partition adds a whole kernel to what the guests
     * trust, the emulator more on top; a device per guest leaves the hypervisor alone.
     */
    @Test
    void movingTheDriverOutOfTheHypervisorAddsToTheTrustedBaseAndPassthroughIsSmallest() {
        int passthrough = TrustedBase.lines(SOURCES, Placement.PASSTHROUGH);
        int pv = TrustedBase.lines(SOURCES, Placement.HYPERVISOR_PV);
        int partition = TrustedBase.lines(SOURCES, Placement.IO_PARTITION);
        int emulator = TrustedBase.lines(SOURCES, Placement.DOM0_EMULATOR);
        assertTrue(passthrough > 0);
        assertTrue(passthrough < pv && pv < partition && passthrough < emulator,
            "passthrough " + passthrough + ", hypervisor-pv " + pv + ", io-partition " + partition + ", dom0-emulator " + emulator);
        assertTrue(TrustedBase.sharesDriver(Placement.IO_PARTITION) && !TrustedBase.sharesDriver(Placement.PASSTHROUGH));
    }

    @Test
    void codeLinesLeaveOutBlankLinesAndComments(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("A.java");
        Files.writeString(f, String.join("\n",
            "/** A javadoc",
            " * spanning lines */",
            "class A { // a comment after code",
            "",
            "    // only a comment",
            "    String s = \"/* not a comment */\";",
            "    /* a block */ int x;",
            "    /* a block",
            "       going on */",
            "}"));
        assertEquals(4, TrustedBase.codeLines(f));
    }

    /**
     * Which classes run where while {@code p} reads and writes with sHype in mode {@code mac} (and,
     * when it is on, while the Policy Manager reloads the policy): level → classes.
     */
    private static Map<String, Set<String>> run(Placement p, GrantMode mode, String mac) {
        try (IoPath path = p.open(MachineConfig.defaults().mac(mac), 4, mode)) {
            int partition = path instanceof IoPartitionPlacement ? ((IoPartitionPlacement) path).partition().id()
                : path instanceof EmulatorPlacement ? ((EmulatorPlacement) path).partition().id() : Integer.MIN_VALUE;
            CodeByContext probe = new CodeByContext(c -> kind(p, c, partition));
            Cpu.setWorkProbe(probe);
            try {
                InlineExecutor executor = new InlineExecutor(path);
                long buffer = path.app().allocateBuffer(4 * 8192);
                for (int i = 0; i < 4; i++) {
                    path.app().prepare(path.cpu(), i, i % 2 == 0 ? Aio.PREAD : Aio.PWRITE, i * 8192L, buffer + i * 8192L, 8192, i);
                }
                for (int round = 0; round < 3; round++) {
                    executor.runBatch(4);
                }
                if (!"off".equals(mac)) {
                    policyManagerReloads(path);
                }
            } finally {
                Cpu.setWorkProbe(null);
            }
            return probe.classes();
        }
    }

    /** dom0, the Policy Manager, reads the active policy into its memory and loads it again (reject mode). */
    private static void policyManagerReloads(IoPath path) {
        Hypervisor hv = MacPlacementTest.hypervisor(path);
        long buffer = new DomainMemory(hv.dom0(), path.machine().memory()).allocate(4);
        Cpu cpu = path.cpu();
        Context was = cpu.current();
        cpu.start(hv.dom0().kernel());
        long bytes = hv.hypercall(cpu, Hypercall.XSM_OP, Hypercall.ACM_GET_POLICY, buffer, 4 * MachineMemory.PAGE_SIZE, 0);
        assertTrue(bytes > 0, "ACM_GET_POLICY: " + bytes);
        assertEquals(0, hv.hypercall(cpu, Hypercall.XSM_OP, Hypercall.ACM_SET_POLICY, buffer, bytes, 0), "ACM_SET_POLICY");
        cpu.start(was);
    }

    private static String kind(Placement p, Context c, int partition) {
        if (c.level() == PrivilegeLevel.HYPERVISOR) {
            return "hypervisor";
        }
        if (c.level() == PrivilegeLevel.DEVICE) {
            return null;
        }
        if (c.domainId() == partition) {
            return "partition";
        }
        return p == Placement.NATIVE && c.level() == PrivilegeLevel.KERNEL ? "os-kernel" : null;
    }

    private static Set<String> listed(Placement p, String kind, String mac) {
        Set<String> out = new TreeSet<>();
        for (TrustedBase.Part part : TrustedBase.parts(p, mac)) {
            boolean match = kind.equals("hypervisor") ? part.level() == TrustedBase.Level.HYPERVISOR
                : kind.equals("partition") ? part.level() == TrustedBase.Level.PARTITION_KERNEL || part.level() == TrustedBase.Level.PARTITION_USER
                : part.level() == TrustedBase.Level.OS_KERNEL;
            if (match) {
                out.addAll(part.classes());
            }
        }
        return out;
    }
}
