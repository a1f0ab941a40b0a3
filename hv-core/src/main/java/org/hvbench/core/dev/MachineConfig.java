package org.hvbench.core.dev;

import java.nio.file.Path;
import java.util.Locale;

import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;

/**
 * Everything a user can set about the machine, with defaults, checked when set: a bad value throws
 * {@link IllegalArgumentException} naming the setting and what is allowed.
 *
 * <table>
 * <caption>Settings</caption>
 * <tr><th>setting</th><th>default</th><th>allowed</th></tr>
 * <tr><td>memory</td><td>256 MiB</td><td>whole 4 KiB frames, 1 MiB to 1 GiB</td></tr>
 * <tr><td>pageTableLevels</td><td>4</td><td>3, 4, 5</td></tr>
 * <tr><td>tlbSets, tlbWays</td><td>16 x 4 (64 entries, as a first-level data TLB)</td><td>power of two; 1 to 16 ways</td></tr>
 * <tr><td>tlbTagged</td><td>false</td><td>entries survive address-space switches when true</td></tr>
 * <tr><td>costProfile</td><td>current-x86</td><td>none, paper-era, current-x86, or a .properties path</td></tr>
 * <tr><td>diskBytes</td><td>64 MiB</td><td>whole 512-byte sectors, 1 MiB to 1 GiB</td></tr>
 * <tr><td>diskFile</td><td>none (RAM disk)</td><td>a file path: the disk is that file</td></tr>
 * <tr><td>queueEntries</td><td>64</td><td>power of two, 1 to 4096</td></tr>
 * <tr><td>iommu</td><td>on</td><td>on (translate every DMA), off (identity: no protection),
 *     exclusion (a bitmap of frames no device may touch, no translation), system (what the
 *     placement's real system has: off for native, the in-hypervisor drivers, the I/O partition, the
 *     emulator and channel-program; on for passthrough, passthrough-posted, channel-program-iommu)</td></tr>
 * <tr><td>iommuInvalidation</td><td>strict</td><td>strict, deferred</td></tr>
 * <tr><td>iommuBatch</td><td>256</td><td>deferred unmaps per flush, 1 to 65536</td></tr>
 * <tr><td>iotlbSets, iotlbWays</td><td>16 x 4</td><td>as the TLB</td></tr>
 * <tr><td>events</td><td>two-level</td><td>two-level (shared-info bitmaps), fifo (priority queues of
 *     event words): how the split placements' kernels take their events</td></tr>
 * <tr><td>mac</td><td>off</td><td>off, ste, chwall-ste: sHype mandatory access control over what the
 *     placement's domains share (a built-in policy that permits the placement's own sharing)</td></tr>
 * </table>
 */
public final class MachineConfig {
    private long memoryBytes = MachineMemory.DEFAULT_BYTES;
    private int pageTableLevels = 4;
    private int tlbSets = 16;
    private int tlbWays = 4;
    private boolean tlbTagged;
    private String costProfile = "current-x86";
    private long diskBytes = 64L << 20;
    private Path diskFile;
    private int queueEntries = 64;
    private int traceCapacity = 4096;
    private String iommu = "on";
    private String iommuInvalidation = "strict";
    private int iommuBatch = 256;
    private int iotlbSets = 16;
    private int iotlbWays = 4;
    private String events = "two-level";
    private String mac = "off";

    public static MachineConfig defaults() {
        return new MachineConfig();
    }

    /** An independent copy: changing one leaves the other as it was. */
    public MachineConfig copy() {
        MachineConfig c = new MachineConfig();
        c.memoryBytes = memoryBytes;
        c.pageTableLevels = pageTableLevels;
        c.tlbSets = tlbSets;
        c.tlbWays = tlbWays;
        c.tlbTagged = tlbTagged;
        c.costProfile = costProfile;
        c.diskBytes = diskBytes;
        c.diskFile = diskFile;
        c.queueEntries = queueEntries;
        c.traceCapacity = traceCapacity;
        c.iommu = iommu;
        c.iommuInvalidation = iommuInvalidation;
        c.iommuBatch = iommuBatch;
        c.iotlbSets = iotlbSets;
        c.iotlbWays = iotlbWays;
        c.events = events;
        c.mac = mac;
        return c;
    }

    public MachineConfig memory(long bytes) {
        MachineMemory.checkSize(bytes);
        this.memoryBytes = bytes;
        return this;
    }

    /** Parses sizes such as {@code 268435456}, {@code 256m}, {@code 256MiB}, {@code 1g}. */
    public MachineConfig memory(String size) {
        return memory(parseBytes("memory", size));
    }

    public MachineConfig pageTableLevels(int levels) {
        PageTable.checkLevels(levels);
        this.pageTableLevels = levels;
        return this;
    }

    public MachineConfig tlb(int sets, int ways) {
        org.hvbench.core.mem.Tlb.checkGeometry(sets, ways);
        this.tlbSets = sets;
        this.tlbWays = ways;
        return this;
    }

    public MachineConfig tlbTagged(boolean tagged) {
        this.tlbTagged = tagged;
        return this;
    }

    public MachineConfig costProfile(String nameOrPath) {
        CostProfile.load(nameOrPath);
        this.costProfile = nameOrPath;
        return this;
    }

    public MachineConfig diskBytes(long bytes) {
        DiskSize.check(bytes);
        this.diskBytes = bytes;
        return this;
    }

    public MachineConfig diskFile(Path file) {
        this.diskFile = file;
        return this;
    }

    public MachineConfig queueEntries(int entries) {
        if (entries < 1 || entries > BlockDevice.MAX_ENTRIES || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("queueEntries: " + entries + " is not allowed; use a power of two from 1 to "
                + BlockDevice.MAX_ENTRIES);
        }
        this.queueEntries = entries;
        return this;
    }

    public MachineConfig traceCapacity(int crossings) {
        if (crossings < 0) {
            throw new IllegalArgumentException("traceCapacity: " + crossings + " is not allowed; use 0 or more crossings");
        }
        this.traceCapacity = crossings;
        return this;
    }

    /**
     * {@code system}: the IOMMU the placement's real system has, chosen when the placement is opened
     * ({@code Placement.systemIommu}).
     */
    public static final String IOMMU_SYSTEM = "system";

    /** @throws IllegalArgumentException naming {@code iommu} and its values */
    public MachineConfig iommu(String mode) {
        if (!"on".equals(mode) && !"off".equals(mode) && !"exclusion".equals(mode) && !IOMMU_SYSTEM.equals(mode)) {
            throw new IllegalArgumentException("iommu: '" + mode + "' is unknown; use system (what the placement's real"
                + " system has), on, off or exclusion");
        }
        this.iommu = mode;
        return this;
    }

    public MachineConfig iommuInvalidation(String mode) {
        org.hvbench.core.iommu.InvalidationMode.parse(mode);
        this.iommuInvalidation = mode;
        return this;
    }

    public MachineConfig iommuBatch(int unmaps) {
        if (unmaps < 1 || unmaps > 1 << 16) {
            throw new IllegalArgumentException("iommuBatch: " + unmaps + " is not allowed; use 1 to 65536");
        }
        this.iommuBatch = unmaps;
        return this;
    }

    public MachineConfig iotlb(int sets, int ways) {
        org.hvbench.core.mem.Tlb.checkGeometry(sets, ways);
        this.iotlbSets = sets;
        this.iotlbWays = ways;
        return this;
    }

    /** @throws IllegalArgumentException naming {@code mac} and its values */
    public MachineConfig mac(String mode) {
        if (!"off".equals(mode) && !"ste".equals(mode) && !"chwall-ste".equals(mode)) {
            throw new IllegalArgumentException("mac: '" + mode + "' is unknown; use off, ste or chwall-ste");
        }
        this.mac = mode;
        return this;
    }

    /** sHype's mode: off, ste or chwall-ste. */
    public String mac() {
        return mac;
    }

    /** @throws IllegalArgumentException naming {@code events} and its values */
    public MachineConfig events(String layout) {
        if (!"two-level".equals(layout) && !"fifo".equals(layout)) {
            throw new IllegalArgumentException("events: '" + layout + "' is unknown; use two-level or fifo");
        }
        this.events = layout;
        return this;
    }

    /** two-level or fifo. */
    public String events() {
        return events;
    }

    public boolean fifoEvents() {
        return "fifo".equals(events);
    }

    /** on, off, exclusion, or system until a placement resolves it. */
    public String iommu() {
        return iommu;
    }

    public boolean iommuTranslates() {
        return "on".equals(iommu);
    }

    public String iommuInvalidation() {
        return iommuInvalidation;
    }

    public int iommuBatch() {
        return iommuBatch;
    }

    public int iotlbSets() {
        return iotlbSets;
    }

    public int iotlbWays() {
        return iotlbWays;
    }

    public long memoryBytes() {
        return memoryBytes;
    }

    public int pageTableLevels() {
        return pageTableLevels;
    }

    public int tlbSets() {
        return tlbSets;
    }

    public int tlbWays() {
        return tlbWays;
    }

    public boolean tlbTagged() {
        return tlbTagged;
    }

    public String costProfile() {
        return costProfile;
    }

    public long diskBytes() {
        return diskBytes;
    }

    public Path diskFile() {
        return diskFile;
    }

    public int queueEntries() {
        return queueEntries;
    }

    public int traceCapacity() {
        return traceCapacity;
    }

    /**
     * Parses a byte size: a whole number with an optional unit {@code k}, {@code m}, {@code g}
     * (binary: KiB, MiB, GiB; {@code kib}, {@code mib}, {@code gib} and a trailing {@code b} also read).
     *
     * @throws IllegalArgumentException naming {@code setting}
     */
    public static long parseBytes(String setting, String text) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("ib")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("b")) {
            t = t.substring(0, t.length() - 1);
        }
        long unit = 1;
        if (!t.isEmpty()) {
            char last = t.charAt(t.length() - 1);
            if (last == 'k' || last == 'm' || last == 'g') {
                unit = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
                t = t.substring(0, t.length() - 1);
            }
        }
        try {
            long n = Long.parseLong(t.trim());
            if (n < 0 || n > Long.MAX_VALUE / unit) {
                throw new NumberFormatException();
            }
            return n * unit;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(setting + ": '" + text + "' is not a size; write a whole number of bytes,"
                + " optionally with k, m or g (KiB, MiB, GiB), e.g. 256m", e);
        }
    }
}
