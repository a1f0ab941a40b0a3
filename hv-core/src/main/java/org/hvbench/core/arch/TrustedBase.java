package org.hvbench.core.arch;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;


/**
 * The trusted computing base of each placement, counted in this project's code: which contexts a
 * guest must trust besides itself (the hypervisor always; the driver in it; the I/O partition's
 * kernel and its back end; the emulator; the channel-program checker), and which classes run in each.
 * The lists are written down here; {@code TrustedBaseTest} runs every placement with a probe on the
 * CPU that sees which classes do work in which context and checks that each one is on its list.
 * What counts is software: the machine model (CPUs, TLBs, memory, the IOMMU, the device) is hardware.
 * Classes are named below {@code org.hvbench.core}, so that package-private ones can be listed too.
 *
 * <p>With sHype on (the machine setting {@code mac}, ste or chwall-ste), a guest also trusts the
 * access-control module in the hypervisor and the Policy Manager in dom0 that writes the policy it
 * enforces: {@link #parts(Placement, String)}. The methods without {@code mac} count sHype off.
 */
public final class TrustedBase {
    /** Where a context's code runs. */
    public enum Level {
        HYPERVISOR, PARTITION_KERNEL, PARTITION_USER, OS_KERNEL,
        /** dom0's user space, where the Policy Manager's tools run (dom0 is not the I/O partition). */
        DOM0_USER
    }

    /** A body of trusted code, the level it runs at and its classes. */
    public enum Part {
        HYPERVISOR("the hypervisor", Level.HYPERVISOR, "hv.Hypervisor", "hv.Domain", "hv.Hypercall", "hv.HypercallHandler",
            "hv.AccessControl", "hv.VmExit", "hv.PendingEvents", "hv.VirtualInterruptHandler", "hv.MmioHandler",
            "hv.ChannelHandler", "hv.DomainTeardown", "hv.IommuOps", "grant.GrantOps", "grant.GrantEntry", "evtchn.EventChannels",
            "evtchn.FifoEvents", "evtchn.FifoQueues", "evtchn.FifoLayout", "evtchn.SharedInfo", "mem.FrameAllocator", "mem.PageTable"),
        HYPERVISOR_DRIVER("the hypervisor's block driver (device model, hypercall and channel-program checks)", Level.HYPERVISOR,
            "hv.HypervisorBlockDriver", "hv.BlockProtocol", "mem.MemoryQueue", "mem.QueueProducer", "mem.QueueConsumer"),
        DIRECT_CHANNEL("the hypervisor's hand-over of a guest's chain to its own device", Level.HYPERVISOR, "hv.DirectChannel"),
        IOREQ_FORWARDING("the hypervisor's forwarding of trapped I/O to the emulator", Level.HYPERVISOR, "evtchn.IoRequestForwarder"),
        PARTITION_KERNEL("the I/O partition's kernel, its device driver and the toolstack's store", Level.PARTITION_KERNEL,
            "guest.Kernel", "guest.DeviceDriver", "guest.NativeDevicePort", "guest.DomainMemory", "guest.OsMemory", "guest.Aio",
            "evtchn.EventDispatcher", "evtchn.FifoDispatcher", "evtchn.TwoLevelEvents", "mem.MemoryQueue", "mem.QueueProducer",
            "mem.QueueConsumer", "guest.Store"),
        BACK_END("the partition's block back end", Level.PARTITION_KERNEL, "guest.BlockBack", "guest.BlockCompletions", "ring.BackRing",
            "ring.SharedRing", "hv.BlockProtocol", "arch.IoPartitionPlacement"),
        EMULATOR("the partition's user-space device emulator", Level.PARTITION_USER, "guest.Emulator", "guest.App", "guest.Aio",
            "mem.MemoryQueue", "mem.QueueProducer", "mem.QueueConsumer", "arch.EmulatorPlacement"),
        OS_KERNEL("the operating system's kernel and driver", Level.OS_KERNEL, "guest.Kernel", "guest.DeviceDriver",
            "guest.NativeDevicePort", "guest.NativeMemory", "guest.OsMemory", "guest.Aio", "mem.MemoryQueue", "mem.QueueProducer",
            "mem.QueueConsumer"),
        // hv.Bindings is here, not in HYPERVISOR: only the module's revoking load walks it. sec.Toolstack
        // is the module's call-out; the partition's toolstack (arch.IoPartitionPlacement) implements it.
        ACCESS_CONTROL("sHype's access-control module and the policy it decodes", Level.HYPERVISOR, "sec.AccessControlModule",
            "sec.DecisionCache", "sec.Policy", "sec.BinaryPolicy", "sec.PolicyException", "sec.Toolstack", "hv.Bindings"),
        // The Policy Manager's command line, cli.PolicyTool, is hv-bench's and cannot be named below
        // org.hvbench.core: its lines are not counted.
        POLICY_MANAGER("sHype's Policy Manager in dom0: the policy compiler and the binary it loads", Level.DOM0_USER,
            "sec.PolicyCompiler", "sec.Policy", "sec.BinaryPolicy", "sec.PolicyException");

        private final String description;
        private final Level level;
        private final List<String> classes;

        Part(String description, Level level, String... classes) {
            this.description = description;
            this.level = level;
            this.classes = List.of(classes);
        }

        public String description() {
            return description;
        }

        public Level level() {
            return level;
        }

        /** Its classes, named below {@code org.hvbench.core} ({@code hv.Hypervisor}). */
        public List<String> classes() {
            return classes;
        }
    }

    private TrustedBase() {
    }

    /**
     * What a guest of {@code p} must trust besides itself; for {@code native}, what its applications
     * must (there is no guest).
     */
    public static Set<Part> parts(Placement p) {
        switch (p) {
            case NATIVE:
                return EnumSet.of(Part.OS_KERNEL);
            case HYPERVISOR_PV:
            case HYPERVISOR_TRAP:
            case CHANNEL_PROGRAM:
                return EnumSet.of(Part.HYPERVISOR, Part.HYPERVISOR_DRIVER);
            case IO_PARTITION:
                return EnumSet.of(Part.HYPERVISOR, Part.PARTITION_KERNEL, Part.BACK_END);
            case DOM0_EMULATOR:
                return EnumSet.of(Part.HYPERVISOR, Part.IOREQ_FORWARDING, Part.PARTITION_KERNEL, Part.EMULATOR);
            case PASSTHROUGH:
            case PASSTHROUGH_POSTED:
                return EnumSet.of(Part.HYPERVISOR);
            case CHANNEL_PROGRAM_IOMMU:
                return EnumSet.of(Part.HYPERVISOR, Part.DIRECT_CHANNEL);
            default:
                throw new IllegalStateException("placement " + p + " has no trusted base listed");
        }
    }

    /**
     * What a guest of {@code p} must trust with sHype in mode {@code mac} (as {@link
     * org.hvbench.core.dev.MachineConfig#mac()}): with ste or chwall-ste, the access-control module
     * and the Policy Manager too (both kinds run the same code); native has no hypervisor to add them to.
     *
     * @throws IllegalArgumentException when {@code mac} is not off, ste or chwall-ste
     */
    public static Set<Part> parts(Placement p, String mac) {
        Set<Part> out = EnumSet.copyOf(parts(p));
        if (shype(mac) && p != Placement.NATIVE) {
            out.add(Part.ACCESS_CONTROL);
            out.add(Part.POLICY_MANAGER);
        }
        return out;
    }

    private static boolean shype(String mac) {
        switch (mac) {
            case "off":
                return false;
            case "ste":
            case "chwall-ste":
                return true;
            default:
                throw new IllegalArgumentException("mac: '" + mac + "' is unknown; use off, ste or chwall-ste");
        }
    }

    /** True when the placement's guests share a driver (everything but a device per guest, and native). */
    public static boolean sharesDriver(Placement p) {
        return p != Placement.NATIVE && !p.needsIommu();
    }

    /** The classes of {@code p}'s trusted base, each once. */
    public static Set<String> classes(Placement p) {
        return classes(parts(p));
    }

    /** The classes of {@code p}'s trusted base with sHype in mode {@code mac}, each once. */
    public static Set<String> classes(Placement p, String mac) {
        return classes(parts(p, mac));
    }

    private static Set<String> classes(Set<Part> parts) {
        Set<String> out = new LinkedHashSet<>();
        for (Part part : parts) {
            out.addAll(part.classes());
        }
        return out;
    }

    /**
     * Non-blank, non-comment lines of the source files of {@code p}'s trusted base, under
     * {@code sourceRoot} (hv-core's {@code src/main/java}). Nested classes count with their file.
     *
     * @throws UncheckedIOException when a file cannot be read
     */
    public static int lines(Path sourceRoot, Placement p) {
        return lines(sourceRoot, classes(p));
    }

    /** As {@link #lines(Path, Placement)}, with sHype in mode {@code mac} ({@link #parts(Placement, String)}). */
    public static int lines(Path sourceRoot, Placement p, String mac) {
        return lines(sourceRoot, classes(p, mac));
    }

    private static int lines(Path sourceRoot, Set<String> classes) {
        int n = 0;
        for (Path f : files(sourceRoot, classes)) {
            n += codeLines(f);
        }
        return n;
    }

    /** The source files of {@code classes} under {@code sourceRoot}. */
    public static List<Path> files(Path sourceRoot, Set<String> classes) {
        Set<Path> out = new LinkedHashSet<>();
        for (String c : classes) {
            out.add(sourceRoot.resolve("org/hvbench/core/" + c.replace('.', '/') + ".java"));
        }
        return new ArrayList<>(out);
    }

    /** hv-core's main source folder seen from {@code dir} (the project root or a module), or null. */
    public static Path findSourceRoot(Path dir) {
        for (Path d = dir.toAbsolutePath(); d != null; d = d.getParent()) {
            for (Path candidate : new Path[] {d.resolve("hv-core/src/main/java"), d.resolve("src/main/java")}) {
                if (Files.isRegularFile(candidate.resolve("org/hvbench/core/hv/Hypervisor.java"))) {
                    return candidate;
                }
            }
        }
        return null;
    }

    /** Lines of {@code file} that hold code: not blank, not only a comment. */
    public static int codeLines(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("trusted base: cannot read " + file, e);
        }
        int n = 0;
        boolean inComment = false;
        for (String raw : lines) {
            String line = raw.trim();
            boolean code = false;
            int i = 0;
            while (i < line.length()) {
                if (inComment) {
                    int end = line.indexOf("*/", i);
                    if (end < 0) {
                        i = line.length();
                    } else {
                        inComment = false;
                        i = end + 2;
                    }
                } else if (line.startsWith("//", i)) {
                    break;
                } else if (line.startsWith("/*", i)) {
                    inComment = true;
                    i += 2;
                } else if (line.charAt(i) == '"') {
                    // A string literal is code, whatever it holds.
                    code = true;
                    int end = i + 1;
                    while (end < line.length() && line.charAt(end) != '"') {
                        end += line.charAt(end) == '\\' ? 2 : 1;
                    }
                    i = end + 1;
                } else {
                    if (!Character.isWhitespace(line.charAt(i))) {
                        code = true;
                    }
                    i++;
                }
            }
            if (code) {
                n++;
            }
        }
        return n;
    }
}
