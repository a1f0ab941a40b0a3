package org.hvbench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.cpu.Crossing;

/**
 * What the two papers in {@code ../shared/papers/} report, each figure with its source, beside our
 * measured or modelled counterpart for each JVM. Karger and Safford count context switches and
 * quote other studies' overheads; Perez, van Doorn and Sailer give no numbers, so their rows say
 * what they claim and what we measured for it. Cost figures from other sources are in
 * docs/cost-profiles.md and are linked, not repeated.
 */
final class PublishedFigures {
    private static final String KS = "Karger & Safford 2008";
    private static final String PVS = "Perez, van Doorn & Sailer";

    private PublishedFigures() {
    }

    /** A published figure and how to find ours. */
    record Figure(String what, String published, String source, Function<Ours, String> ours) {
    }

    static final List<Figure> FIGURES = List.of(
        new Figure("Context switches in one asynchronous I/O: OS on bare hardware (`native`)", "5",
            KS + ", figure 4", o -> o.crossings("native")),
        new Figure("… driver in the hypervisor (`hypervisor-pv`, `hypervisor-trap`)", "8", KS + ", figure 5",
            o -> o.crossings("hypervisor-pv", "hypervisor-trap")),
        new Figure("… driver in the kernel of a privileged I/O partition (`io-partition`)", "11", KS + ", figure 6",
            o -> o.crossings("io-partition")),
        new Figure("… device emulation in the partition's user space, Xen dom0 (`dom0-emulator`)", "16", KS + ", figure 7",
            o -> o.crossings("dom0-emulator")),
        new Figure("dom0 emulation against bare hardware", "about 3× the context switches", KS + ", section 4.2",
            o -> o.over("dom0-emulator", "native")),
        new Figure("dom0 emulation against the driver in the hypervisor (trapped)", "about 2× the context switches",
            KS + ", section 4.2", o -> o.over("dom0-emulator", "hypervisor-trap")),
        new Figure("I/O through paravirtual drivers in dom0 against native (file and network I/O)", "2× to 10× the overhead",
            KS + ", section 4.3, summing up the three studies below", o -> o.over("io-partition", "native")),
        new Figure("Network throughput through Xen's dom0 as a share of native Linux", "about ⅓ (Menon et al.); about ⅒ (Zhang et al.)",
            KS + ", section 4.3, citing Menon et al. (VEE 2005) and Zhang et al. (Middleware 2007)",
            o -> o.share("io-partition", "native")),
        new Figure("File I/O, Xen with paravirtual drivers in dom0 against KVM (which the paper counts as a driver in the"
            + " hypervisor)", "2× to 4× slower", KS + ", section 4.3, citing Nakajima & Mallick (OLS 2007)",
            o -> o.over("io-partition", "hypervisor-pv")),
        new Figure("Devices assigned to guests through an IOMMU avoid the I/O partition's cost", "no figure",
            KS + ", section 4.1", o -> o.overEach("native", "passthrough", "passthrough-posted")),
        new Figure("Channel programs: one trapped Start I/O runs a whole program of I/O operations", "no figure",
            KS + ", section 1", o -> o.chain("channel-program")),
        new Figure("One emulated privileged instruction", "can take thousands of real instructions", PVS + ", section III",
            Ours::trap),
        new Figure("DMA exclusion vector: protects memory from devices without translating addresses", "no figure",
            PVS + ", section III.D", Ours::exclusion));

    /** The table, one "ours" column per JVM. */
    static String markdown(Map<String, List<MarkdownReport.Loaded>> byJvm, String costProfilesLink) {
        StringBuilder b = new StringBuilder("| what | published | source |");
        byJvm.keySet().forEach(j -> b.append(" ours, ").append(j).append(" |"));
        b.append("\n|---|---|---|").append("---|".repeat(byJvm.size())).append('\n');
        List<Ours> ours = new ArrayList<>();
        byJvm.values().forEach(l -> ours.add(new Ours(l)));
        for (Figure f : FIGURES) {
            b.append("| ").append(f.what()).append(" | ").append(f.published()).append(" | ").append(f.source()).append(" |");
            ours.forEach(o -> b.append(' ').append(f.ours().apply(o)).append(" |"));
            b.append('\n');
        }
        return b.append("\nOurs: crossings are counted by the inline executor at depth 1; \"measured\" is time per I/O from")
            .append(" I/O per second with the 99.9% error of both results, always two results of one run (the profile in")
            .append(" brackets); \"modelled\" is the cost profile's time (").append(costProfilesLink).append("). The papers'")
            .append(" figures come from real hardware and whole workloads, ours from a model in one JVM: compare which way")
            .append(" and how far things move, not the magnitudes.\n").toString();
    }

    /**
     * One JVM's counterparts, each from the first profile (in report order) that has every result
     * it needs, at the profile's main setting and depth 1.
     */
    static final class Ours {
        private final List<MarkdownReport.Loaded> profiles;

        Ours(List<MarkdownReport.Loaded> profiles) {
            this.profiles = profiles;
        }

        private record Found(String profile, PlacementTable.Group group) {
        }

        /** The first profile whose main setting at depth 1 has all these placements, or {@code null}. */
        private Found depthOne(String... placements) {
            for (MarkdownReport.Loaded l : profiles) {
                List<PlacementTable.Group> main = MarkdownReport.mainSetting(l.groups());
                if (main.isEmpty() || main.get(0).depth() != 1) {
                    continue;
                }
                PlacementTable.Group g = main.get(0);
                boolean all = true;
                for (String p : placements) {
                    all &= g.row(p) != null;
                }
                if (all) {
                    return new Found(l.profile(), g);
                }
            }
            return null;
        }

        String crossings(String... placements) {
            List<String> parts = new ArrayList<>();
            for (String p : placements) {
                Found f = depthOne(p);
                if (f != null) {
                    String n = PlacementTable.fixed(f.group().row(p).crossingsPerIo(), 2);
                    parts.add((placements.length > 1 ? "`" + p + "` " : "") + n + " (`" + f.profile() + "`)");
                }
            }
            return parts.isEmpty() ? "not measured" : String.join(", ", parts);
        }

        /** {@code a} against {@code b} in one run: crossings, time per I/O (with its error) and modelled time, each a over b. */
        private record Pair(String profile, double crossings, double time, double timeError, double modelled) {
        }

        private Pair pair(String a, String b) {
            Found f = depthOne(a, b);
            if (f == null) {
                return null;
            }
            PlacementTable.Row ra = f.group().row(a);
            PlacementTable.Row rb = f.group().row(b);
            double[] time = PlacementTable.ratio(rb.ios(), rb.iosError(), ra.ios(), ra.iosError());
            return new Pair(f.profile(), ra.crossingsPerIo() / rb.crossingsPerIo(), time[0], time[1],
                ra.modelledNsPerIo() / rb.modelledNsPerIo());
        }

        /** Crossings, measured time and modelled time of {@code a} over {@code b}. */
        String over(String a, String b) {
            Pair p = pair(a, b);
            if (p == null) {
                return "not measured";
            }
            return String.format(Locale.ROOT, "crossings %s×; time measured %s×%s (`%s`)", PlacementTable.fixed(p.crossings(), 2),
                PlacementTable.ratio(p.time(), p.timeError()),
                Double.isFinite(p.modelled()) ? String.format(Locale.ROOT, ", modelled %.2f×", p.modelled()) : "", p.profile());
        }

        /** {@link #over} for each of {@code placements} over {@code b}, named; "not measured" when none was. */
        String overEach(String b, String... placements) {
            List<String> parts = new ArrayList<>();
            for (String a : placements) {
                String o = over(a, b);
                if (!o.equals("not measured")) {
                    parts.add("`" + a + "`: " + o);
                }
            }
            return parts.isEmpty() ? "not measured" : String.join("; ", parts);
        }

        /** I/O per second of {@code a} as a share of {@code b}'s (the inverse of the time ratio, same relative error). */
        String share(String a, String b) {
            Pair p = pair(a, b);
            if (p == null) {
                return "not measured";
            }
            double share = 1 / p.time();
            return String.format(Locale.ROOT, "I/O per second measured %s%s of native's (`%s`)",
                PlacementTable.ratio(share, share * p.timeError() / p.time()),
                Double.isFinite(1 / p.modelled()) ? String.format(Locale.ROOT, ", modelled %.2f", 1 / p.modelled()) : "", p.profile());
        }

        /** Crossings per I/O of a channel placement at each chain length of the first profile that ran more than one. */
        String chain(String placement) {
            for (MarkdownReport.Loaded l : profiles) {
                List<PlacementTable.Group> main = MarkdownReport.mainSetting(l.groups());
                List<String> parts = new ArrayList<>();
                for (PlacementTable.Group g : main) {
                    PlacementTable.Row r = g.row(placement);
                    if (r != null) {
                        parts.add("chain of " + g.depth() + ": " + PlacementTable.fixed(r.crossingsPerIo(), 2));
                    }
                }
                if (parts.size() > 1) {
                    return "crossings per I/O, " + String.join(", ", parts) + " (`" + l.profile() + "`)";
                }
            }
            return "not measured";
        }

        /** The modelled exit and re-entry, and the trapped driver against the paravirtual one. */
        String trap() {
            Found f = depthOne("hypervisor-trap", "hypervisor-pv");
            String modelled = "";
            String profile = f == null ? firstCostProfile() : f.group().costProfile();
            if (profile != null) {
                try {
                    CostProfile c = CostProfile.load(profile);
                    modelled = String.format(Locale.ROOT, "exit + re-entry modelled at %.0f ns (%s); ",
                        (c.crossingPicos(Crossing.VMEXIT) + c.crossingPicos(Crossing.VMENTRY)) / 1000.0, c.name());
                } catch (IllegalArgumentException | IllegalStateException unknownHere) {
                    // A profile file of another machine: say nothing rather than guess.
                }
            }
            return modelled + "trapped driver over paravirtual: " + over("hypervisor-trap", "hypervisor-pv");
        }

        private String firstCostProfile() {
            for (MarkdownReport.Loaded l : profiles) {
                if (!l.groups().isEmpty()) {
                    return l.groups().get(0).costProfile();
                }
            }
            return null;
        }

        /** Native at depth 1 with the IOMMU off, as an exclusion vector and on (strict), from one run. */
        String exclusion() {
            for (MarkdownReport.Loaded l : profiles) {
                for (PlacementTable.Group off : l.groups()) {
                    if (!"off".equals(off.iommu()) || off.depth() != 1 || off.row("native") == null) {
                        continue;
                    }
                    PlacementTable.Row excl = nativeWith(l, off, "exclusion");
                    PlacementTable.Row on = nativeWith(l, off, "on");
                    if (excl != null && on != null) {
                        PlacementTable.Row o = off.row("native");
                        double[] e = PlacementTable.ratio(o.ios(), o.iosError(), excl.ios(), excl.iosError());
                        double[] s = PlacementTable.ratio(o.ios(), o.iosError(), on.ios(), on.iosError());
                        return String.format(Locale.ROOT, "native, %s, depth 1, time over IOMMU off: exclusion vector %s×,"
                                + " IOMMU on (strict) %s× (`%s`)", PlacementTable.size(off.size()), PlacementTable.ratio(e[0], e[1]),
                            PlacementTable.ratio(s[0], s[1]), l.profile());
                    }
                }
            }
            return "not measured";
        }

        /**
         * Native's row in the group like {@code off} but for the IOMMU mode: strict invalidation
         * when on, else the same (unused) invalidation setting as {@code off}, so the pair is
         * always the same two runs.
         */
        private static PlacementTable.Row nativeWith(MarkdownReport.Loaded l, PlacementTable.Group off, String iommu) {
            String invalidation = iommu.equals("on") ? "strict" : off.iommuInvalidation();
            for (PlacementTable.Group g : l.groups()) {
                if (g.iommu().equals(iommu) && g.iommuInvalidation().equals(invalidation)
                    && g.depth() == off.depth() && g.size() == off.size() && g.operation().equals(off.operation())
                    && g.tlbTagged().equals(off.tlbTagged()) && g.costProfile().equals(off.costProfile())
                    && g.grantMode().equals(off.grantMode()) && g.executor().equals(off.executor())
                    && g.row("native") != null) {
                    return g.row("native");
                }
            }
            return null;
        }
    }
}
