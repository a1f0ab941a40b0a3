package org.hvbench.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.arch.TrustedBase;
import org.hvbench.core.covert.ChannelResult;
import org.hvbench.core.covert.CovertChannel;
import org.hvbench.core.covert.Scheduler;
import org.hvbench.core.covert.TimeSource;
import org.hvbench.core.covert.TrafficAnalysis;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.report.CovertReport;

/**
 * What each placement buys: the covert timing channel through its driver under each scheduler, on
 * the modelled and the measured clock; the hostile driver domain's traffic-flow analysis with and
 * without the guest's defences; and the trusted base each placement's guests depend on. Prints the
 * tables and, with {@code --out}, writes {@code covert-<stamp>.json}, {@code .md} and a chart there.
 * Exit status 0, 1 when a file cannot be written, 2 for a bad argument.
 */
public final class Covert {
    static final List<Placement> DEFAULT_PLACEMENTS = List.of(Placement.HYPERVISOR_PV, Placement.HYPERVISOR_TRAP,
        Placement.IO_PARTITION, Placement.DOM0_EMULATOR, Placement.PASSTHROUGH, Placement.PASSTHROUGH_POSTED,
        Placement.CHANNEL_PROGRAM, Placement.CHANNEL_PROGRAM_IOMMU);
    private static final String USAGE = String.join("\n",
        "usage: covert.sh [PLACEMENT...] [options]",
        "  PLACEMENT             any of: " + String.join(", ", Placement.ids().subList(1, Placement.ids().size())),
        "                        (default: all of them; native has no guests)",
        "  --scheduler S[,S...]  " + String.join(", ", Scheduler.ids()) + " (default: all)",
        "  --period US[,US...]   bit periods in microseconds of the run's clock, 10 to 1000000 (default 200,1000)",
        "  --clock C[,C...]      modelled, measured, threaded, or all (default all); threaded runs fifo only",
        "  --bits N              message bits after the 16-bit preamble, 8 to 65536 (default 1024)",
        "  --seed N              the message's and the traffic analysis's seed (default 1)",
        "  --files K             files the traffic-flow attacker tells apart, 2 to 32 (default 8)",
        "  --accesses N          accesses the attacker classifies per defence, 1 to 100000 (default 400); 0 skips it",
        "  --out DIR             write DIR/covert-<stamp>.json, .md and -capacity.png",
        "  --stamp S             the file names' stamp (default: the time, as bench.sh names runs)",
        "  --commit C            the source commit to record (scripts/covert.sh passes it)");

    private Covert() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("covert: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        if (o.help) {
            out.println(USAGE);
            return 0;
        }
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        root.put("tool", "scripts/covert.sh");
        root.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        root.put("javaVersion", System.getProperty("java.version"));
        root.put("commit", o.commit);
        root.put("stamp", o.stamp);
        ObjectNode settings = root.putObject("settings");
        settings.put("bits", o.bits);
        settings.put("preamble", 16);
        settings.put("seed", o.seed);
        settings.put("senderDepth", 4);
        settings.put("senderBytes", 64 << 10);
        settings.put("probeBytes", 4 << 10);
        settings.put("costProfile", MachineConfig.defaults().costProfile());

        ArrayNode channel = root.putArray("channel");
        int total = 0;
        for (TimeSource clock : o.clocks) {
            total += o.placements.size() * o.periods.size() * (clock == TimeSource.THREADED ? 1 : o.schedulers.size());
        }
        int done = 0;
        long start = System.nanoTime();
        for (TimeSource clock : o.clocks) {
            if (clock != TimeSource.MODELLED) {
                // Wall time means compiled code: one short discarded run per placement first.
                err.println("[progress] warming up the JIT for the measured clock");
                for (Placement p : o.placements) {
                    CovertChannel.run(new CovertChannel.Settings().placement(p).clock(clock).periodMicros(200).bits(64).seed(o.seed));
                }
            }
            for (long period : o.periods) {
                for (Placement p : o.placements) {
                    Map<Scheduler, ChannelResult> row = new LinkedHashMap<>();
                    for (Scheduler s : o.schedulers) {
                        if (clock == TimeSource.THREADED && s != Scheduler.FIFO) {
                            continue; // the drivers as they are: FIFO only
                        }
                        CovertChannel.Settings cs = new CovertChannel.Settings().placement(p).scheduler(s).clock(clock)
                            .periodMicros(period).bits(o.bits).seed(o.seed);
                        ChannelResult r = CovertChannel.run(cs);
                        row.put(s, r);
                        done++;
                        err.printf(Locale.ROOT, "[progress] %d of %d: %s %s %s clock, %d µs: p = %.3f, C = %.1f bits/s, elapsed %.0f s%n",
                            done, total, p, s, clock, period, r.errorRate(), r.capacityBitsPerSecond(), (System.nanoTime() - start) / 1e9);
                    }
                    ChannelResult fifo = row.get(Scheduler.FIFO);
                    for (ChannelResult r : row.values()) {
                        channel.add(json(mapper, r, fifo));
                    }
                }
            }
        }

        ArrayNode traffic = root.putArray("traffic");
        if (o.accesses > 0) {
            for (TrafficAnalysis.Defence d : TrafficAnalysis.Defence.values()) {
                // A discarded pass, so that the measured throughput of the first defence is not the JIT's.
                TrafficAnalysis.run(o.files, Math.min(o.accesses, 50), d, o.seed + 1, MachineConfig.defaults());
            }
            TrafficAnalysis.Result none = null;
            for (TrafficAnalysis.Defence d : TrafficAnalysis.Defence.values()) {
                TrafficAnalysis.Result r = TrafficAnalysis.run(o.files, o.accesses, d, o.seed, MachineConfig.defaults());
                if (d == TrafficAnalysis.Defence.NONE) {
                    none = r;
                }
                ObjectNode t = traffic.addObject();
                t.put("defence", d.id());
                t.put("files", r.files);
                t.put("accesses", r.accesses);
                t.put("accuracy", r.accuracy());
                t.put("chance", r.chance());
                t.put("chanceBound", r.chanceBound());
                t.put("requestsPerAccess", r.requestsPerAccess);
                t.put("usefulBytesPerSecondModelled", r.usefulBytesPerSecondModelled);
                t.put("usefulBytesPerSecondMeasured", r.usefulBytesPerSecondMeasured);
                t.put("modelledCostVsNone", 1 - r.usefulBytesPerSecondModelled / none.usefulBytesPerSecondModelled);
                t.put("measuredCostVsNone", 1 - r.usefulBytesPerSecondMeasured / none.usefulBytesPerSecondMeasured);
                err.printf(Locale.ROOT, "[progress] traffic analysis, %s: accuracy %.3f (chance %.3f)%n", d, r.accuracy(), r.chance());
            }
        }

        ArrayNode tcb = root.putArray("trustedBase");
        Path sources = TrustedBase.findSourceRoot(Paths.get(""));
        for (Placement p : Placement.values()) {
            ObjectNode t = tcb.addObject();
            t.put("placement", p.id());
            if (sources != null) {
                t.put("lines", TrustedBase.lines(sources, p));
                // ste and chwall-ste run the same code: one count for both.
                t.put("linesWithShype", TrustedBase.lines(sources, p, "ste"));
            } else {
                t.putNull("lines");
                t.putNull("linesWithShype");
            }
            ArrayNode parts = t.putArray("parts");
            for (TrustedBase.Part part : TrustedBase.parts(p)) {
                parts.add(part.description());
            }
            t.put("sharesDriver", TrustedBase.sharesDriver(p));
            t.put("dmaFromAnotherGuest", p == Placement.NATIVE ? "no guests"
                : p.needsIommu() ? "yes (IOMMU)" : "no: only the trusted driver's checks");
        }

        String markdown = CovertReport.markdown(root, o.out == null ? null : "covert-" + o.stamp + "-capacity.png");
        out.print(markdown);
        if (o.out != null) {
            try {
                Files.createDirectories(o.out);
                Path json = o.out.resolve("covert-" + o.stamp + ".json");
                mapper.writeValue(json.toFile(), root);
                Files.writeString(o.out.resolve("covert-" + o.stamp + ".md"), markdown, StandardCharsets.UTF_8);
                Path png = o.out.resolve("covert-" + o.stamp + "-capacity.png");
                CovertReport.capacityChart(root, png);
                err.println("[covert] wrote " + json + ", its .md and " + png);
            } catch (IOException e) {
                err.println("covert: cannot write under " + o.out + ": " + e.getMessage());
                return 1;
            }
        }
        return 0;
    }

    private static ObjectNode json(ObjectMapper mapper, ChannelResult r, ChannelResult fifo) {
        ObjectNode n = mapper.createObjectNode();
        n.put("placement", r.placement().id());
        n.put("scheduler", r.scheduler().id());
        n.put("clock", r.clock().id());
        n.put("periodMicros", r.periodMicros());
        n.put("bits", r.bits());
        n.put("errors", r.errors());
        n.put("errorRate", r.errorRate());
        n.put("rawBitsPerSecond", r.rawBitsPerSecond());
        n.put("capacityBitsPerSecond", r.capacityBitsPerSecond());
        n.put("mutualInformationBitsPerSecond", r.mutualInformationBitsPerSecond());
        n.put("capacityBoundBitsPerSecond", r.capacityBoundBitsPerSecond());
        n.put("sharedDriver", r.sharedDriver());
        n.put("meanReadsWhenOne", r.meanReadsWhenOne());
        n.put("meanReadsWhenZero", r.meanReadsWhenZero());
        n.put("receiverIosPerSecond", r.receiverIosPerSecond());
        n.put("senderIosPerSecond", r.senderIosPerSecond());
        n.put("receiverP50Micros", r.receiverP50Micros());
        n.put("receiverP99Micros", r.receiverP99Micros());
        n.put("paddingShare", r.paddingShare());
        n.put("slotMicros", r.slotMicros());
        n.put("overruns", r.overruns());
        n.put("bytesChecked", r.bytesChecked());
        n.put("wallMillis", r.wallMillis());
        if (fifo != null) {
            n.put("receiverCostVsFifo", 1 - r.receiverIosPerSecond() / fifo.receiverIosPerSecond());
            n.put("senderCostVsFifo", 1 - r.senderIosPerSecond() / fifo.senderIosPerSecond());
        }
        long[][] c = r.confusion();
        ArrayNode m = n.putArray("confusion");
        m.addArray().add(c[0][0]).add(c[0][1]);
        m.addArray().add(c[1][0]).add(c[1][1]);
        return n;
    }

    /** The command line, checked; every bad value is named with what is allowed. */
    static final class Options {
        boolean help;
        List<Placement> placements = new ArrayList<>();
        List<Scheduler> schedulers = new ArrayList<>(List.of(Scheduler.values()));
        List<Long> periods = new ArrayList<>(List.of(200L, 1000L));
        List<TimeSource> clocks = new ArrayList<>(List.of(TimeSource.values()));
        int bits = 1024;
        long seed = 1;
        int files = 8;
        int accesses = 400;
        Path out;
        String stamp = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
            .format(java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC));
        String commit = "unknown";

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "-h":
                    case "--help":
                        o.help = true;
                        break;
                    case "--scheduler":
                        o.schedulers.clear();
                        for (String s : value(args, ++i, a).split(",")) {
                            o.schedulers.add(Scheduler.parse(s));
                        }
                        break;
                    case "--period":
                        o.periods.clear();
                        for (String s : value(args, ++i, a).split(",")) {
                            long us = number(s, "period");
                            new CovertChannel.Settings().periodMicros(us);
                            o.periods.add(us);
                        }
                        break;
                    case "--clock": {
                        String c = value(args, ++i, a);
                        o.clocks.clear();
                        if (c.equals("all")) {
                            o.clocks.addAll(List.of(TimeSource.values()));
                        } else {
                            for (String one : c.split(",")) {
                                o.clocks.add(TimeSource.parse(one));
                            }
                        }
                        break;
                    }
                    case "--bits":
                        o.bits = (int) number(value(args, ++i, a), "bits");
                        new CovertChannel.Settings().bits(o.bits);
                        break;
                    case "--seed":
                        o.seed = number(value(args, ++i, a), "seed");
                        break;
                    case "--files":
                        o.files = (int) number(value(args, ++i, a), "files");
                        if (o.files < 2 || o.files > 32) {
                            throw new IllegalArgumentException("files: " + o.files + " is not allowed; use 2 to 32");
                        }
                        break;
                    case "--accesses":
                        o.accesses = (int) number(value(args, ++i, a), "accesses");
                        if (o.accesses < 0 || o.accesses > 100_000) {
                            throw new IllegalArgumentException("accesses: " + o.accesses + " is not allowed; use 0 to 100000");
                        }
                        break;
                    case "--out":
                        o.out = Paths.get(value(args, ++i, a));
                        break;
                    case "--stamp":
                        o.stamp = value(args, ++i, a);
                        break;
                    case "--commit":
                        o.commit = value(args, ++i, a);
                        break;
                    default:
                        if (a.startsWith("-")) {
                            throw new IllegalArgumentException("'" + a + "' is not an option");
                        }
                        Placement p = Placement.parse(a);
                        if (p == Placement.NATIVE) {
                            throw new IllegalArgumentException("placement: native has no guests, so no channel between them");
                        }
                        o.placements.add(p);
                }
            }
            if (o.placements.isEmpty()) {
                o.placements.addAll(DEFAULT_PLACEMENTS);
            }
            if (!o.schedulers.contains(Scheduler.FIFO)) {
                // Every cost is against FIFO's: it runs too, first.
                o.schedulers.add(0, Scheduler.FIFO);
            }
            return o;
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }

        private static long number(String s, String setting) {
            try {
                return Long.parseLong(s.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(setting + ": '" + s + "' is not a whole number");
            }
        }
    }
}
