package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.PrivilegeLevel;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.GrantMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The trusted base's lists against the code that really runs: every class seen doing work in the
 * hypervisor, in the I/O partition or in a native kernel while a placement reads and writes must be on
 * the list of that level for that placement.
 */
class TrustedBaseTest {
    private static final Path SOURCES = TrustedBase.findSourceRoot(Paths.get(""));

    @ParameterizedTest
    @EnumSource(Placement.class)
    void everyClassThatRunsInATrustedContextIsOnItsList(Placement p) {
        for (GrantMode mode : p == Placement.IO_PARTITION || p == Placement.DOM0_EMULATOR ? GrantMode.values() : new GrantMode[] {GrantMode.PERSISTENT}) {
            Map<String, Set<String>> seen = run(p, mode);
            for (Map.Entry<String, Set<String>> e : seen.entrySet()) {
                Set<String> allowed = listed(p, e.getKey());
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

    /** Which classes run where while {@code p} reads and writes: level → classes. */
    private static Map<String, Set<String>> run(Placement p, GrantMode mode) {
        try (IoPath path = p.open(MachineConfig.defaults(), 4, mode)) {
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
            } finally {
                Cpu.setWorkProbe(null);
            }
            return probe.classes();
        }
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

    private static Set<String> listed(Placement p, String kind) {
        Set<String> out = new TreeSet<>();
        for (TrustedBase.Part part : TrustedBase.parts(p)) {
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
