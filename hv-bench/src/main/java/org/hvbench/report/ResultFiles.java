package org.hvbench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which JMH JSON files a report reads: under {@code results/<jvm-id>/}, bench.sh names each run
 * {@code <profile>-<UTC timestamp>.json}; per JVM folder and profile, the newest comes first.
 * Its companions ({@code .machine.json}), a multi-run profile's unmerged parts
 * ({@code .partN.json}) and scripts/covert.sh's {@code covert-<stamp>.json} are not JMH results.
 */
final class ResultFiles {
    /** bench.sh's name: profile, then {@code date -u +%Y%m%dT%H%M%SZ}, which sorts as text. */
    private static final Pattern NAME = Pattern.compile("(.+)-(\\d{8}T\\d{6}Z)\\.json");
    private static final Pattern NOT_RESULTS = Pattern.compile(".*\\.(machine|part\\d+)\\.json");

    /** Profiles in the order a report shows them; others follow by name. */
    static final List<String> PROFILE_ORDER = List.of("paper", "quick", "split", "iommu", "threaded", "full");

    private ResultFiles() {
    }

    /** One profile of one JVM: its result files, newest first. */
    record Profile(String jvm, String profile, List<Path> newestFirst) {
    }

    /**
     * The profiles found in {@code inputs}: a file is taken as given, a directory is searched two
     * levels deep ({@code results/} or one {@code results/<jvm-id>/}). The JVM is a file's folder name.
     * Sorted by JVM, then profile ({@link #PROFILE_ORDER}).
     *
     * @throws IOException when an input does not exist or a directory cannot be listed
     */
    static List<Profile> find(List<Path> inputs) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path in : inputs) {
            if (Files.isDirectory(in)) {
                try (Stream<Path> s = Files.walk(in, 2)) {
                    s.filter(Files::isRegularFile).filter(ResultFiles::isResult).sorted().forEach(files::add);
                }
            } else if (Files.isRegularFile(in)) {
                files.add(in);
            } else {
                throw new IOException("no such file or directory: " + in);
            }
        }
        Map<List<String>, List<Path>> byProfile = new LinkedHashMap<>();
        for (Path f : files) {
            Path folder = f.toAbsolutePath().getParent();
            String jvm = folder == null || folder.getFileName() == null ? "" : folder.getFileName().toString();
            byProfile.computeIfAbsent(List.of(jvm, profile(f)), k -> new ArrayList<>()).add(f);
        }
        List<Profile> out = new ArrayList<>();
        for (Map.Entry<List<String>, List<Path>> e : byProfile.entrySet()) {
            List<Path> newestFirst = new ArrayList<>(e.getValue());
            newestFirst.sort(Comparator.comparing(ResultFiles::stamp).reversed());
            out.add(new Profile(e.getKey().get(0), e.getKey().get(1), newestFirst));
        }
        out.sort(Comparator.comparing(Profile::jvm).thenComparing(p -> profileRank(p.profile())).thenComparing(Profile::profile));
        return out;
    }

    static boolean isResult(Path f) {
        String name = f.getFileName().toString();
        return name.endsWith(".json") && !NOT_RESULTS.matcher(name).matches() && !isCovert(f);
    }

    /** scripts/covert.sh's result ({@code covert-<stamp>.json}): not JMH's, read by {@link CovertReport}. */
    static boolean isCovert(Path f) {
        Matcher m = NAME.matcher(f.getFileName().toString());
        return m.matches() && m.group(1).equals("covert");
    }

    /** The newest covert result in {@code folder}, or null. */
    static Path newestCovert(Path folder) throws IOException {
        if (folder == null || !Files.isDirectory(folder)) {
            return null;
        }
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(ResultFiles::isCovert).max(Comparator.comparing(ResultFiles::stamp)).orElse(null);
        }
    }

    /** The profile a file name carries, or the name without {@code .json} when it is not bench.sh's. */
    static String profile(Path f) {
        String name = f.getFileName().toString();
        Matcher m = NAME.matcher(name);
        return m.matches() ? m.group(1) : name.replaceFirst("\\.json$", "");
    }

    /** The timestamp a file name carries, or "" when it has none. */
    static String stamp(Path f) {
        Matcher m = NAME.matcher(f.getFileName().toString());
        return m.matches() ? m.group(2) : "";
    }

    private static int profileRank(String profile) {
        int i = PROFILE_ORDER.indexOf(profile);
        return i < 0 ? PROFILE_ORDER.size() : i;
    }
}
