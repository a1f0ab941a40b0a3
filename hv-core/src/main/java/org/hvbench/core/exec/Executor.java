package org.hvbench.core.exec;

import java.util.Locale;
import java.util.function.LongSupplier;

import org.hvbench.core.arch.CpuLayout;
import org.hvbench.core.arch.IoPath;

/** What runs a placement's machine while its application does I/O: inline or threaded. */
public interface Executor extends AutoCloseable {
    /**
     * Submits the app's prepared control blocks {@code 0..count-1} and returns when all {@code count}
     * have completed.
     *
     * @throws IllegalStateException when the kernel refuses, a party fails, or the run stalls
     */
    void runBatch(int count);

    /** Returns when the app has seen {@code target} completions in all. */
    void awaitCompletions(long target);

    /**
     * Runs the machine until {@code progress} reaches {@code target}: a count that the work run here
     * raises, such as the completions of several apps on the application's CPU (set-up of more
     * guests than the path's own app). {@link #awaitCompletions} is this with the app's completions.
     *
     * @throws IllegalStateException when the run stalls (inline: no party has work; threaded: no
     *     progress for the stall timeout) or a party fails
     */
    void runUntil(LongSupplier progress, long target);

    IoPath path();

    /** Stops whatever threads this executor started; the path stays open. */
    @Override
    void close();

    /** The executors by the name the benchmark parameter and the CLI use. */
    enum Kind {
        INLINE("inline", CpuLayout.ONE_CPU),
        THREADED("threaded", CpuLayout.CPU_PER_DOMAIN);

        private final String id;
        private final CpuLayout layout;

        Kind(String id, CpuLayout layout) {
            this.id = id;
            this.layout = layout;
        }

        public String id() {
            return id;
        }

        /** The CPUs a placement needs for this executor. */
        public CpuLayout layout() {
            return layout;
        }

        /** @throws IllegalArgumentException naming the setting {@code executor} and what is allowed */
        public static Kind parse(String name) {
            String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
            for (Kind k : values()) {
                if (k.id.equals(n)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("executor: '" + name + "' is unknown; use inline or threaded");
        }

        /** An executor of this kind for {@code path}, opened with {@link #layout}. */
        public Executor start(IoPath path, IdleMode idle) {
            return this == INLINE ? new InlineExecutor(path) : new ThreadedExecutor(path, idle);
        }
    }
}
