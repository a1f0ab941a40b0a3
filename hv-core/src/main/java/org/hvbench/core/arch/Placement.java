package org.hvbench.core.arch;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.GrantMode;

/**
 * The driver placements, with the name the CLI, the benchmark parameter and the report share, and
 * the context switches Karger and Safford (2008) count for one asynchronous I/O in each.
 */
public enum Placement {
    NATIVE("native", 5, "Figure 4", "the driver in the kernel of an OS on bare hardware"),
    HYPERVISOR_PV("hypervisor-pv", 8, "Figure 5", "the driver in the hypervisor, reached by hypercall (paravirtual)"),
    HYPERVISOR_TRAP("hypervisor-trap", 8, "Figure 5", "the driver in the hypervisor, reached by a trapped start-I/O (full virtualization)"),
    IO_PARTITION("io-partition", 11, "Figure 6", "the driver in a privileged I/O partition's kernel, reached through split drivers"),
    DOM0_EMULATOR("dom0-emulator", 16, "Figure 7", "a user-space device emulator in the I/O partition, reached by a trapped start-I/O"),
    PASSTHROUGH("passthrough", 6, "Figure 1", "the guest's own driver on a device given to it, every DMA translated by the IOMMU"),
    PASSTHROUGH_POSTED("passthrough-posted", 5, "Figure 1", "as passthrough, with the device's interrupt posted straight to the guest"),
    CHANNEL_PROGRAM("channel-program", 8, "Figure 5, section 1",
        "a chain of commands per trapped start-I/O; the hypervisor copies, checks and relocates it (S/360, CP/67)"),
    CHANNEL_PROGRAM_IOMMU("channel-program-iommu", 8, "Figure 5, section 1",
        "a chain of commands per trapped start-I/O, run by the device from guest memory through the IOMMU (PR/SM)");

    private final String id;
    private final int paperCrossings;
    private final String paperFigure;
    private final String description;

    Placement(String id, int paperCrossings, String paperFigure, String description) {
        this.id = id;
        this.paperCrossings = paperCrossings;
        this.paperFigure = paperFigure;
        this.description = description;
    }

    /** The name used on the command line, in benchmark parameters and in reports. */
    public String id() {
        return id;
    }

    /**
     * Context switches per I/O at depth 1 in Karger and Safford (2008); for the channel programs,
     * figure 5's count, paid once per chain.
     */
    public int paperCrossings() {
        return paperCrossings;
    }

    /** "per I/O", or "per chain" for the channel programs, whose count is paid once per chain. */
    public String paperUnit() {
        return this == CHANNEL_PROGRAM || this == CHANNEL_PROGRAM_IOMMU ? "per chain" : "per I/O";
    }

    public String paperFigure() {
        return paperFigure;
    }

    public String description() {
        return description;
    }

    public static List<String> ids() {
        List<String> out = new ArrayList<>();
        for (Placement p : values()) {
            out.add(p.id);
        }
        return out;
    }

    /**
     * True when this placement cannot work without an IOMMU that translates: the guest's own driver
     * programs the device (passthrough), or the device runs the guest's chain (PR/SM).
     */
    public boolean needsIommu() {
        return this == PASSTHROUGH || this == PASSTHROUGH_POSTED || this == CHANNEL_PROGRAM_IOMMU;
    }

    /**
     * The IOMMU setting of this placement's real system, what {@code iommu=system} means: {@code on}
     * where the placement needs one, else {@code off}. Karger and Safford's figures 4 to 7 are systems
     * without an I/O MMU (an OS on bare hardware, CP/67 and z/VM, Xen's driver domain and QEMU
     * reaching the device with machine addresses); the placements that exist because of the IOMMU
     * (Perez, van Doorn and Sailer on PR/SM and device assignment) have it.
     */
    public String systemIommu() {
        return needsIommu() ? "on" : "off";
    }

    /** @throws IllegalArgumentException naming the setting {@code placement} and the known names */
    public static Placement parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (Placement p : values()) {
            if (p.id.equals(n)) {
                return p;
            }
        }
        throw new IllegalArgumentException("placement: '" + name + "' is unknown; known placements: " + String.join(", ", ids()));
    }

    /**
     * Builds and boots this placement on a new machine.
     *
     * @param depth the most I/Os the application keeps in flight (1 to 128); queues are sized for it
     */
    public IoPath open(MachineConfig config, int depth) {
        return open(config, depth, GrantMode.PERSISTENT);
    }

    /**
     * As {@link #open(MachineConfig, int)}, with how a back end or an emulator reaches the guest's
     * pages (ignored by placements that have neither).
     */
    public IoPath open(MachineConfig config, int depth, GrantMode grantMode) {
        return open(config, depth, grantMode, CpuLayout.ONE_CPU);
    }

    /**
     * As {@link #open(MachineConfig, int, GrantMode)}, on {@code layout}'s CPUs:
     * {@link CpuLayout#CPU_PER_DOMAIN} for the threaded executor.
     */
    public IoPath open(MachineConfig config, int depth, GrantMode grantMode, CpuLayout layout) {
        if (depth < 1 || depth > org.hvbench.core.guest.Aio.MAX_DEPTH) {
            throw new IllegalArgumentException("depth: " + depth + " is not allowed; use 1 to " + org.hvbench.core.guest.Aio.MAX_DEPTH);
        }
        if (MachineConfig.IOMMU_SYSTEM.equals(config.iommu())) {
            config = config.copy().iommu(systemIommu());
        }
        // Queues and tables are sized in powers of two: the next one up from the depth.
        int capacity = depth == 1 ? 1 : Integer.highestOneBit(depth - 1) << 1;
        switch (this) {
            case NATIVE:
                return new NativePlacement(config, capacity);
            case HYPERVISOR_PV:
                return new HypervisorPlacement(this, config, capacity, true);
            case HYPERVISOR_TRAP:
                return new HypervisorPlacement(this, config, capacity, false);
            case IO_PARTITION:
                return new IoPartitionPlacement(config, capacity, grantMode, layout);
            case DOM0_EMULATOR:
                return new EmulatorPlacement(config, capacity, grantMode, layout);
            case PASSTHROUGH:
                return new PassthroughPlacement(this, config, capacity, false);
            case PASSTHROUGH_POSTED:
                return new PassthroughPlacement(this, config, capacity, true);
            case CHANNEL_PROGRAM:
                return new ChannelPlacement(this, config, capacity, false);
            case CHANNEL_PROGRAM_IOMMU:
                return new ChannelPlacement(this, config, capacity, true);
            default:
                throw new IllegalStateException("placement " + id + " has no builder");
        }
    }

    @Override
    public String toString() {
        return id;
    }
}
