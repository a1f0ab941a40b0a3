package org.hvbench.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.dev.MachineConfig;

/**
 * The comparison of placements: for each setting (operation, size, depth, TLB tagging, cost
 * profile, grant mode, IOMMU mode), one row per placement with crossings per I/O beside the paper's count, I/Os per second
 * with JMH's 99.9% error, time per I/O relative to native (error propagated from both scores), TLB
 * misses and modelled nanoseconds per I/O, allocation per I/O, and the raw copy of the same bytes
 * as the floor.
 */
public final class PlacementTable {
    static final String ARCHITECTURE = "ArchitectureBench.io";
    static final String RAW_COPY = "RawCopyBench.copy";

    private PlacementTable() {
    }

    /**
     * One measured placement in one setting. {@code iommuUsed} is the IOMMU it ran with; {@code split}
     * is its modelled ns per I/O by {@link CostPart#key()}, in {@link CostPart}'s order (empty for a run
     * made before the split was counted); {@code costVsNative} divides by bare native.
     */
    public record Row(String placement, String iommuUsed, double crossingsPerIo, int paperCrossings, double ios, double iosError,
                      double costVsNative, double costVsNativeError, double tlbMissesPerIo, double modelledNsPerIo,
                      double allocBytesPerIo, double notificationsPerIo, double iotlbMissesPerIo, Map<String, Double> split) {
        /** The modelled ns per I/O of the parts in {@code parts}; NaN without a split. */
        public double splitNs(CostPart... parts) {
            if (split.isEmpty()) {
                return Double.NaN;
            }
            double ns = 0;
            for (CostPart p : parts) {
                ns += split.getOrDefault(p.key(), 0.0);
            }
            return ns;
        }
    }

    /**
     * One setting and its rows, native first. {@code iommu} is {@code system} for a run in which each
     * placement had the IOMMU its real system has; then native's rows with the IOMMU on join the group
     * as "native + IOMMU strict" and "native + IOMMU deferred". {@code bareNative} says whether the
     * ratios divide by native on bare hardware (IOMMU off) of the same run; when the run had none,
     * they divide by the group's own native row and the heading says so.
     */
    public record Group(String operation, int size, int depth, String tlbTagged, String costProfile, String grantMode,
                        String iommu, String iommuInvalidation, String executor, String idle, List<Row> rows, Row rawCopy,
                        boolean bareNative) {
        public Row row(String placement) {
            return rows.stream().filter(r -> r.placement().equals(placement)).findFirst().orElse(null);
        }

        /** Time of a native I/O over the raw copy's; {@code NaN} when either is missing. */
        public double nativeOverRawCopy() {
            Row n = row(Placement.NATIVE.id());
            return n == null || rawCopy == null ? Double.NaN : rawCopy.ios() / n.ios();
        }
    }

    /** The row label of native with the IOMMU on in a {@code system} group. */
    static String nativeWithIommu(String invalidation) {
        return "native + IOMMU " + invalidation;
    }

    public static List<Group> build(List<JmhResult> results) {
        Set<String> systemRuns = new HashSet<>();
        for (JmhResult r : results) {
            if (r.simpleName().equals(ARCHITECTURE) && MachineConfig.IOMMU_SYSTEM.equals(r.param("iommu"))) {
                systemRuns.add(r.source());
            }
        }
        Map<List<String>, List<JmhResult>> bySetting = new LinkedHashMap<>();
        List<JmhResult> raw = new ArrayList<>();
        for (JmhResult r : results) {
            if (r.simpleName().equals(ARCHITECTURE)) {
                String iommu = iommu(r);
                String invalidation = Objects.toString(r.param("iommuInvalidation"), "strict");
                // In a run of placements on their systems' IOMMU, native with the IOMMU on is a row beside them.
                if (MachineConfig.IOMMU_SYSTEM.equals(iommu) || isNativeWithIommu(r) && systemRuns.contains(r.source())) {
                    iommu = MachineConfig.IOMMU_SYSTEM;
                    invalidation = "";
                }
                List<String> key = List.of(r.source(), r.param("operation"), r.param("size"), r.param("depth"), r.param("tlbTagged"),
                    r.param("costProfile"), Objects.toString(r.param("grantMode"), "persistent"), iommu, invalidation,
                    executor(r), idle(r));
                bySetting.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
            } else if (r.simpleName().equals(RAW_COPY)) {
                raw.add(r);
            }
        }
        List<Group> groups = new ArrayList<>();
        for (Map.Entry<List<String>, List<JmhResult>> e : bySetting.entrySet()) {
            List<String> k = e.getKey().subList(1, e.getKey().size());
            int size = Integer.parseInt(k.get(1));
            int depth = Integer.parseInt(k.get(2));
            boolean system = MachineConfig.IOMMU_SYSTEM.equals(k.get(6));
            JmhResult bare = bareNative(results, e.getValue().get(0));
            JmhResult nat = bare != null ? bare : e.getValue().stream().filter(r -> isNative(r) && !isNativeWithIommu(r))
                .findFirst().orElse(e.getValue().stream().filter(PlacementTable::isNative).findFirst().orElse(null));
            List<Row> rows = new ArrayList<>();
            for (JmhResult r : e.getValue()) {
                rows.add(row(r, nat, depth, system && isNativeWithIommu(r)));
            }
            rows.sort(Comparator.comparingInt(r -> order(r.placement())));
            JmhResult copy = raw.stream().filter(r -> Objects.equals(r.source(), e.getKey().get(0))
                && Objects.equals(r.param("operation"), k.get(0)) && Objects.equals(r.param("size"), k.get(1))
                && Objects.equals(r.param("depth"), k.get(2))).findFirst().orElse(null);
            groups.add(new Group(k.get(0), size, depth, k.get(3), k.get(4), k.get(5), k.get(6), k.get(7), k.get(8), k.get(9), rows,
                copy == null ? null : rawRow(copy, nat), bare != null));
        }
        groups.sort(Comparator.comparing(Group::operation).thenComparingInt(Group::size).thenComparingInt(Group::depth)
            .thenComparing(Group::tlbTagged).thenComparing(Group::costProfile).thenComparing(Group::grantMode)
            .thenComparing(Group::iommu).thenComparing(Group::iommuInvalidation).thenComparing(Group::executor)
            .thenComparing(Group::idle));
        return groups;
    }

    private static String iommu(JmhResult r) {
        return Objects.toString(r.param("iommu"), "on");
    }

    private static String executor(JmhResult r) {
        String mac = r.param("mac");
        return Objects.toString(r.param("executor"), "inline") + ("fifo".equals(r.param("events")) ? ", fifo events" : "")
            + (mac != null && !"off".equals(mac) ? ", sHype " + mac : "");
    }

    private static String idle(JmhResult r) {
        return "threaded".equals(r.param("executor")) ? Objects.toString(r.param("idle"), "backoff") : "";
    }

    private static boolean isNative(JmhResult r) {
        return Placement.NATIVE.id().equals(r.param("placement"));
    }

    private static boolean isNativeWithIommu(JmhResult r) {
        return isNative(r) && "on".equals(iommu(r));
    }

    /**
     * Native on bare hardware (IOMMU off, or {@code system}, which is off for native) from the same run
     * file as {@code like}, at its operation, size, depth, TLB tagging, cost profile and executor; null
     * when that run had none.
     */
    static JmhResult bareNative(List<JmhResult> results, JmhResult like) {
        JmhResult found = null;
        for (JmhResult r : results) {
            if (r.simpleName().equals(ARCHITECTURE) && isNative(r) && Objects.equals(r.source(), like.source())
                && ("off".equals(iommu(r)) || MachineConfig.IOMMU_SYSTEM.equals(iommu(r)))
                && Objects.equals(r.param("operation"), like.param("operation")) && Objects.equals(r.param("size"), like.param("size"))
                && Objects.equals(r.param("depth"), like.param("depth")) && Objects.equals(r.param("tlbTagged"), like.param("tlbTagged"))
                && Objects.equals(r.param("costProfile"), like.param("costProfile")) && executor(r).equals(executor(like))
                && idle(r).equals(idle(like))) {
                // Two bare natives differ only in an unused invalidation setting: take the first.
                if (found == null) {
                    found = r;
                }
            }
        }
        return found;
    }

    /** A placement's position in {@link Placement}'s order, native + IOMMU right after native; unknown names last. */
    static int order(String placement) {
        if (placement.startsWith(nativeWithIommu(""))) {
            return 1 + (placement.endsWith("deferred") ? 1 : 0);
        }
        try {
            int ordinal = Placement.parse(placement).ordinal();
            return ordinal == 0 ? 0 : ordinal + 2;
        } catch (IllegalArgumentException unknown) {
            return Integer.MAX_VALUE;
        }
    }

    /** I/O per second (the {@code ios} counter), or NaN. */
    static double ios(JmhResult r) {
        JmhResult.Metric m = r.secondary("ios");
        return m == null ? Double.NaN : m.score();
    }

    static double iosError(JmhResult r) {
        JmhResult.Metric m = r.secondary("ios");
        return m == null ? Double.NaN : m.error();
    }

    private static double perIo(JmhResult r, String counter) {
        JmhResult.Metric m = r.secondary(counter);
        return m == null ? Double.NaN : m.score() / ios(r);
    }

    private static Row row(JmhResult r, JmhResult nat, int depth, boolean nativeWithIommu) {
        String invalidation = Objects.toString(r.param("iommuInvalidation"), "strict");
        String label = nativeWithIommu ? nativeWithIommu(invalidation) : r.param("placement");
        int paper;
        try {
            paper = Placement.parse(r.param("placement")).paperCrossings();
        } catch (IllegalArgumentException unknown) {
            paper = -1;
        }
        double[] ratio = r == nat ? new double[] {1, 0} : ratio(nat, r);
        JmhResult.Metric alloc = r.secondary("gc.alloc.rate.norm");
        return new Row(label, iommuUsed(r), perIo(r, "crossings"), paper, ios(r), iosError(r), ratio[0], ratio[1],
            perIo(r, "tlbMisses"), perIo(r, "modelledNs"), alloc == null ? Double.NaN : alloc.score() / depth,
            perIo(r, "notifications"), perIo(r, "iotlbMisses"), split(r));
    }

    /** The IOMMU a row ran with: system resolved through the placement. */
    static String iommuUsed(JmhResult r) {
        String iommu = iommu(r);
        if (MachineConfig.IOMMU_SYSTEM.equals(iommu)) {
            try {
                iommu = Placement.parse(r.param("placement")).systemIommu();
            } catch (IllegalArgumentException unknown) {
                return iommu;
            }
            // Placements that need the IOMMU work in a p2m mapped once: nothing is unmapped per I/O.
            return "on".equals(iommu) ? "on (static p2m)" : iommu;
        }
        return "on".equals(iommu) ? "on (" + Objects.toString(r.param("iommuInvalidation"), "strict") + ")" : iommu;
    }

    /** Modelled ns per I/O by cost part, from the {@code ns_*} counters; empty when the run had none. */
    private static Map<String, Double> split(JmhResult r) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (r.secondary(CostPart.DEVICE.counter()) == null && r.secondary(CostPart.SYSCALL.counter()) == null) {
            return out;
        }
        for (CostPart p : CostPart.values()) {
            double ns = perIo(r, p.counter());
            // JMH leaves out a counter that stayed zero in every iteration.
            out.put(p.key(), Double.isNaN(ns) ? 0.0 : ns);
        }
        return out;
    }

    private static Row rawRow(JmhResult copy, JmhResult nat) {
        double[] ratio = ratio(nat, copy);
        return new Row("raw copy (floor)", "", 0, 0, ios(copy), iosError(copy), ratio[0], ratio[1], 0, Double.NaN, Double.NaN, 0, 0,
            Map.of());
    }

    /**
     * Time per I/O of {@code r} over native's (native I/Os per second over {@code r}'s), with the
     * error of a quotient: relative errors added in quadrature.
     */
    static double[] ratio(JmhResult nat, JmhResult r) {
        if (nat == null) {
            return new double[] {Double.NaN, Double.NaN};
        }
        return ratio(ios(nat), iosError(nat), ios(r), iosError(r));
    }

    /** {@code a / b} and its error: the relative errors of both added in quadrature. */
    static double[] ratio(double a, double aError, double b, double bError) {
        double ratio = a / b;
        return new double[] {ratio, ratio * Math.hypot(aError / a, bError / b)};
    }

    /** The coarse parts of the cost-split table and chart, each the sum of its {@link CostPart}s. */
    enum SplitColumn {
        CROSSINGS("crossings", CostPart.SYSCALL, CostPart.SYSRET, CostPart.HYPERCALL, CostPart.VMEXIT, CostPart.VMENTRY,
            CostPart.VIRQ, CostPart.UPCALL, CostPart.DEVICE_START, CostPart.DEVICE_IRQ),
        IDLE("idle switches", CostPart.IDLE_SWITCH),
        SPACES("address-space switches, TLB flushes", CostPart.ADDRESS_SPACE_SWITCH, CostPart.TLB_FLUSH),
        TLB("TLB misses and walks", CostPart.TLB_MISS, CostPart.TLB_WALK),
        IOTLB("IOTLB misses and walks", CostPart.IOTLB_MISS, CostPart.IOTLB_WALK),
        INVALIDATE("IOTLB invalidations", CostPart.IOTLB_INVALIDATE),
        COPY("CPU copies", CostPart.COPY),
        GRANT("grant operations", CostPart.GRANT),
        DEVICE("device DMA", CostPart.DEVICE);

        final String title;
        final CostPart[] parts;

        SplitColumn(String title, CostPart... parts) {
            this.title = title;
            this.parts = parts;
        }
    }

    /** The groups as Markdown tables. */
    public static String markdown(List<Group> groups) {
        return markdown(groups, Map.of());
    }

    /**
     * As {@link #markdown(List)}, with what each placement buys beside what it costs when
     * {@code security} (scripts/covert.sh's result, by placement) is not empty: its trusted base in
     * lines, whether its guests share a driver, the covert channel's capacity through it under FIFO
     * (modelled | measured clock) and whether DMA from another guest is blocked.
     */
    public static String markdown(List<Group> groups, Map<String, CovertReport.Summary> security) {
        boolean sec = !security.isEmpty();
        StringBuilder b = new StringBuilder();
        for (Group g : groups) {
            b.append(String.format(Locale.ROOT, "### %s %s, queue depth %d, TLB %s, cost profile %s, grant mode %s, IOMMU %s%s%n%n",
                g.operation(), size(g.size()), g.depth(), "true".equals(g.tlbTagged()) ? "tagged" : "untagged", g.costProfile(),
                g.grantMode(), iommu(g),
                g.executor().startsWith("threaded") ? ", " + g.executor().replace("threaded", "threaded executor (idle " + g.idle() + ")")
                    : g.executor().replace("inline", "")));
            b.append(g.bareNative() ? "Time × native divides by native on bare hardware (IOMMU off) of the same run.\n\n"
                : "This run has no native on bare hardware: time × native divides by this group's native row (IOMMU "
                    + (g.row(Placement.NATIVE.id()) == null ? "?" : g.row(Placement.NATIVE.id()).iommuUsed())
                    + "), not by bare native.\n\n");
            b.append("| placement | IOMMU | crossings per I/O | paper, per I/O | notifications per I/O | I/O per s ± 99.9%"
                + " | time per I/O × native | TLB misses per I/O | IOTLB misses per I/O | modelled ns per I/O"
                + " | alloc B per I/O |" + (sec ? " TCB lines | driver shared | covert capacity, bits/s (modelled \\| measured)"
                + " | DMA from another guest blocked |" : "") + "\n");
            b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + (sec ? "---:|---|---:|---|" : "") + "\n");
            for (Row r : g.rows()) {
                b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", r.placement(),
                    r.iommuUsed(), fixed(r.crossingsPerIo(), 2), r.paperCrossings() < 0 ? "" : Integer.toString(r.paperCrossings()),
                    fixed(r.notificationsPerIo(), 2), withError(r.ios(), r.iosError()),
                    ratio(r.costVsNative(), r.costVsNativeError()), fixed(r.tlbMissesPerIo(), 1),
                    fixed(r.iotlbMissesPerIo(), 2), fixed(r.modelledNsPerIo(), 0), fixed(r.allocBytesPerIo(), 3)));
                if (sec) {
                    b.append(securityCells(r.placement(), security));
                }
                b.append(System.lineSeparator());
            }
            Row raw = g.rawCopy();
            if (raw != null) {
                b.append(String.format(Locale.ROOT, "| %s | | 0 | | | %s | %s | 0 | | | |%s%n", raw.placement(),
                    withError(raw.ios(), raw.iosError()), ratio(raw.costVsNative(), raw.costVsNativeError()), sec ? " | | | |" : ""));
            }
            if (sec) {
                b.append("\nTCB lines, driver shared, covert capacity (FIFO, the shortest bit period; measured: the threaded clock,"
                    + " nanoTime with the guests, the partition and the device on threads of their own) and DMA blocking come from the"
                    + " newest `scripts/covert.sh` result of this JVM; the README's section on the security half says how to read them.\n");
            }
            double floor = g.nativeOverRawCopy();
            if (!Double.isNaN(floor)) {
                b.append(String.format(Locale.ROOT, "%nA native I/O takes %.1f× the time of a bare copy of its bytes.%n", floor));
            }
            b.append(passthroughNote(g));
            b.append('\n');
            b.append(splitMarkdown(g));
        }
        if (groups.isEmpty()) {
            b.append("(no ArchitectureBench results)\n");
        }
        return b.toString();
    }

    /** The security columns of one row: a native + IOMMU row is native's (no guests). */
    public static String securityCells(String placement, Map<String, CovertReport.Summary> security) {
        String base = placement.startsWith(Placement.NATIVE.id()) ? Placement.NATIVE.id() : placement;
        CovertReport.Summary s = security.get(base);
        if (s == null) {
            return " | | | |";
        }
        String capacity = base.equals(Placement.NATIVE.id()) ? "no guests"
            : (s.modelledCapacity == null ? "—" : fixed(s.modelledCapacity, 0)) + " \\| "
                + (s.measuredCapacity == null ? "—" : fixed(s.measuredCapacity, 0));
        return String.format(Locale.ROOT, " %s | %s | %s | %s |", s.tcbLines == null ? "—" : String.format(Locale.ROOT, "%,d", s.tcbLines),
            base.equals(Placement.NATIVE.id()) ? "no guests" : s.sharesDriver ? "yes" : "no", capacity, s.dmaFromAnotherGuest);
    }

    /**
     * Where a placement that needs the IOMMU models cheaper than native with per-transfer strict
     * mapping, the published cause: a mapping made once and kept costs nothing per I/O, while a
     * single-use mapping pays its map, its IOTLB miss and a waited-for invalidation every time.
     */
    static String passthroughNote(Group g) {
        Row strict = g.row(nativeWithIommu("strict"));
        if (strict == null) {
            return "";
        }
        List<String> cheaper = new ArrayList<>();
        for (Row r : g.rows()) {
            if (r.iommuUsed().startsWith("on (static") && r.modelledNsPerIo() < strict.modelledNsPerIo()) {
                cheaper.add(r.placement());
            }
        }
        if (cheaper.isEmpty()) {
            return "";
        }
        return String.format(Locale.ROOT, "%n%s model%s cheaper than native + IOMMU strict (%s ns against %s): the device works"
            + " in the guest's p2m, mapped once, while native maps and unmaps each transfer's pages and waits for an IOTLB"
            + " invalidation per unmap. Single-use against persistent IOMMU mappings: Willmann, Rixner and Cox, \"Protection"
            + " Strategies for Direct Access to Virtualized I/O Devices\", USENIX ATC 2008. Bare native stays the floor.%n",
            String.join(", ", cheaper), cheaper.size() == 1 ? "s" : "", fixed(g.row(cheaper.get(0)).modelledNsPerIo(), 0),
            fixed(strict.modelledNsPerIo(), 0));
    }

    /** Where each row's modelled ns per I/O go, when the run counted the split. */
    static String splitMarkdown(Group g) {
        if (g.rows().stream().allMatch(r -> r.split().isEmpty())) {
            return "";
        }
        StringBuilder b = new StringBuilder("Where the modelled ns per I/O go (each crossing kind apart in `--format json`):\n\n");
        b.append("| placement | modelled ns per I/O |");
        for (SplitColumn c : SplitColumn.values()) {
            b.append(' ').append(c.title).append(" |");
        }
        b.append("\n|---|---:|");
        for (int i = 0; i < SplitColumn.values().length; i++) {
            b.append("---:|");
        }
        b.append('\n');
        for (Row r : g.rows()) {
            if (r.split().isEmpty()) {
                continue;
            }
            b.append("| ").append(r.placement()).append(" | ").append(fixed(r.modelledNsPerIo(), 0)).append(" |");
            for (SplitColumn c : SplitColumn.values()) {
                b.append(' ').append(fixed(r.splitNs(c.parts), 1)).append(" |");
            }
            b.append('\n');
        }
        return b.append('\n').toString();
    }

    /** The groups as JSON: every setting, every row with each cost part (for {@code Report table --format json}). */
    public static String json(List<Group> groups) {
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(groups) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("cannot write the placement table as JSON", e);
        }
    }

    /**
     * "on (strict)"; "off" or "exclusion" alone, unless the run also set a non-default invalidation,
     * which only an IOMMU that is on uses: then the heading says so, or two runs that differ only
     * there would look like one setting twice.
     */
    static String iommu(Group g) {
        if (MachineConfig.IOMMU_SYSTEM.equals(g.iommu())) {
            return "as each placement's system has it";
        }
        if ("on".equals(g.iommu())) {
            return "on (" + g.iommuInvalidation() + ")";
        }
        return "strict".equals(g.iommuInvalidation()) ? g.iommu() : g.iommu() + " (invalidation " + g.iommuInvalidation() + ", unused)";
    }

    static String size(int bytes) {
        if (bytes % (1 << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes % 1024 == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " B";
    }

    static String fixed(double v, int decimals) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    static String withError(double v, double error) {
        if (Double.isNaN(v)) {
            return "";
        }
        return Double.isNaN(error) ? String.format(Locale.ROOT, "%,.0f (no error: too few samples)", v)
            : String.format(Locale.ROOT, "%,.0f ± %,.0f", v, error);
    }

    static String ratio(double v, double error) {
        if (Double.isNaN(v)) {
            return "";
        }
        return Double.isNaN(error) ? String.format(Locale.ROOT, "%.2f", v) : String.format(Locale.ROOT, "%.2f ± %.2f", v, error);
    }
}
