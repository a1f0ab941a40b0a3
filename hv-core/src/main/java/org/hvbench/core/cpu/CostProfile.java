package org.hvbench.core.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * What each counted event costs, in modelled nanoseconds, on the hardware a profile describes. A
 * profile is a properties file with its sources written beside each value; the built-in ones are
 * {@code none} (every cost zero: counting only), {@code paper-era} and {@code current-x86}. A path to a
 * file of the same keys works too.
 *
 * <p>Keys: {@code crossing.<KIND>} for each {@link Crossing}, {@code switch.IDLE},
 * {@code addressSpace.switch}, {@code tlb.flush}, {@code tlb.miss}, {@code walk.level},
 * {@code iotlb.miss}, {@code iotlb.invalidate}, {@code copy.perKiB}. Costs are held in picoseconds.
 */
public final class CostProfile {
    public static final List<String> BUILT_IN = List.of("none", "paper-era", "current-x86");
    private static final String RESOURCE_DIR = "/org/hvbench/core/cpu/profiles/";

    private final String name;
    private final String description;
    private final long[] crossingPicos = new long[Crossing.count()];
    private final long idleSwitchPicos;
    private final long addressSpaceSwitchPicos;
    private final long tlbFlushPicos;
    private final long tlbMissPicos;
    private final long walkLevelPicos;
    private final long iotlbMissPicos;
    private final long iotlbInvalidatePicos;
    private final long copyPicosPerKiB;

    private CostProfile(String source, Properties p) {
        this.name = required(source, p, "name");
        this.description = p.getProperty("description", "").trim();
        for (Crossing kind : Crossing.values()) {
            crossingPicos[kind.ordinal()] = picos(source, p, "crossing." + kind.name());
        }
        this.idleSwitchPicos = picos(source, p, "switch.IDLE");
        this.addressSpaceSwitchPicos = picos(source, p, "addressSpace.switch");
        this.tlbFlushPicos = picos(source, p, "tlb.flush");
        this.tlbMissPicos = picos(source, p, "tlb.miss");
        this.walkLevelPicos = picos(source, p, "walk.level");
        this.iotlbMissPicos = picos(source, p, "iotlb.miss");
        this.iotlbInvalidatePicos = picos(source, p, "iotlb.invalidate");
        this.copyPicosPerKiB = picos(source, p, "copy.perKiB");
    }

    /**
     * A built-in profile by name, or a profile file by path.
     *
     * @throws IllegalArgumentException naming the setting {@code costProfile} and the built-in names
     */
    public static CostProfile load(String nameOrPath) {
        if (nameOrPath == null || nameOrPath.isBlank()) {
            throw unknown(nameOrPath);
        }
        if (BUILT_IN.contains(nameOrPath)) {
            try (InputStream in = CostProfile.class.getResourceAsStream(RESOURCE_DIR + nameOrPath + ".properties")) {
                if (in == null) {
                    throw new IllegalStateException("built-in cost profile " + nameOrPath + " is missing from the jar");
                }
                Properties p = new Properties();
                p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
                return new CostProfile(nameOrPath, p);
            } catch (IOException e) {
                throw new IllegalStateException("cannot read built-in cost profile " + nameOrPath, e);
            }
        }
        Path path = Path.of(nameOrPath);
        if (!Files.isRegularFile(path)) {
            throw unknown(nameOrPath);
        }
        try (Reader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            Properties p = new Properties();
            p.load(in);
            return new CostProfile(path.toString(), p);
        } catch (IOException e) {
            throw new IllegalArgumentException("costProfile: cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    private static IllegalArgumentException unknown(String value) {
        return new IllegalArgumentException("costProfile: '" + value + "' is neither a built-in profile ("
            + String.join(", ", BUILT_IN) + ") nor a readable .properties file");
    }

    private static String required(String source, Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("costProfile " + source + ": key '" + key + "' is missing");
        }
        return v.trim();
    }

    private static long picos(String source, Properties p, String key) {
        String v = required(source, p, key);
        double nanos;
        try {
            nanos = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("costProfile " + source + ": key '" + key + "' must be a number of"
                + " nanoseconds; got '" + v + "'", e);
        }
        if (!(nanos >= 0) || Double.isInfinite(nanos)) {
            throw new IllegalArgumentException("costProfile " + source + ": key '" + key + "' must be >= 0 ns; got " + v);
        }
        return Math.round(nanos * 1000.0);
    }

    public String name() {
        return name;
    }

    public String description() {
        return description;
    }

    public long crossingPicos(Crossing kind) {
        return crossingPicos[kind.ordinal()];
    }

    public long idleSwitchPicos() {
        return idleSwitchPicos;
    }

    public long addressSpaceSwitchPicos() {
        return addressSpaceSwitchPicos;
    }

    public long tlbFlushPicos() {
        return tlbFlushPicos;
    }

    public long tlbMissPicos() {
        return tlbMissPicos;
    }

    public long walkLevelPicos() {
        return walkLevelPicos;
    }

    public long iotlbMissPicos() {
        return iotlbMissPicos;
    }

    /** One IOTLB invalidation, issued and waited for (a strict unmap, or one deferred batch). */
    public long iotlbInvalidatePicos() {
        return iotlbInvalidatePicos;
    }

    /** Cost of copying {@code bytes} bytes. */
    public long copyPicos(long bytes) {
        return bytes * copyPicosPerKiB >> 10;
    }

    /** One line per cost, for the trace CLI and the report. */
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        for (Crossing kind : Crossing.values()) {
            lines.add(String.format(Locale.ROOT, "crossing.%s = %.1f ns", kind, crossingPicos[kind.ordinal()] / 1000.0));
        }
        lines.add(String.format(Locale.ROOT, "tlb.miss = %.1f ns, walk.level = %.1f ns, copy.perKiB = %.1f ns",
            tlbMissPicos / 1000.0, walkLevelPicos / 1000.0, copyPicosPerKiB / 1000.0));
        lines.add(String.format(Locale.ROOT, "iotlb.miss = %.1f ns, iotlb.invalidate = %.1f ns",
            iotlbMissPicos / 1000.0, iotlbInvalidatePicos / 1000.0));
        return lines;
    }

    @Override
    public String toString() {
        return name;
    }
}
