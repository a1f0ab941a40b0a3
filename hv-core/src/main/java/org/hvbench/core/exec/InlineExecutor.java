package org.hvbench.core.exec;

import java.util.function.LongSupplier;

import org.agrona.concurrent.Agent;
import org.hvbench.core.Errno;
import org.hvbench.core.arch.IoPath;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.guest.App;

/**
 * Runs a placement on the calling thread, deterministically: the uniprocessor of Karger and
 * Safford's analysis. The app submits; then each party (the device, interrupt delivery) runs in turn
 * until the completions are back. The trace tests use it, because the same I/O always gives the
 * same crossings in the same order.
 *
 * <p>A run that cannot finish (no party has work but I/Os are outstanding: a lost interrupt or
 * completion) fails at once with the count, instead of spinning.
 */
public final class InlineExecutor implements Executor {
    private final IoPath path;
    private final App app;
    private final Cpu cpu;
    private final Agent[] parties;
    private final Context appContext;
    /** The app's completions, made once: awaiting them allocates nothing. */
    private final LongSupplier completed;

    public InlineExecutor(IoPath path) {
        this.path = path;
        this.app = path.app();
        this.completed = app::completed;
        this.cpu = path.cpu();
        this.parties = path.parties();
        this.appContext = app.kernel().appContext();
        cpu.setOriginator(appContext);
    }

    /**
     * One turn of every party; returns the work they did. Afterwards the CPU is back with the app:
     * whatever context a chain of handlers ended in (a partition that was preempted, the hypervisor)
     * had nothing left to do, so the return is an idle switch.
     */
    public int runOnce() {
        return runOnce(appContext);
    }

    /**
     * As {@link #runOnce()}, handing the CPU back to {@code resume} instead of the path's app: the app
     * of another guest of the same machine, whose I/O this turn is for.
     */
    public int runOnce(Context resume) {
        int work = 0;
        for (Agent party : parties) {
            try {
                work += party.doWork();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("party " + party.roleName() + " failed", e);
            }
        }
        cpu.idleSwitch(resume);
        cpu.rest();
        return work;
    }

    /** Runs the parties until none has work. */
    public int runUntilIdle() {
        int total = 0;
        int work;
        while ((work = runOnce()) > 0) {
            total += work;
        }
        return total;
    }

    /**
     * Submits the app's prepared control blocks {@code 0..count-1} (resubmitting the rest when the
     * kernel takes only part) and runs until all {@code count} have completed.
     *
     * @throws IllegalStateException when the kernel refuses with an error, or the run stalls
     */
    @Override
    public void runBatch(int count) {
        long target = app.completed() + count;
        cpu.rest();
        int submitted = 0;
        while (submitted < count) {
            long r = app.submit(cpu, submitted, count - submitted);
            if (r > 0) {
                submitted += (int) r;
                if (submitted < count && runOnce() == 0) {
                    // The kernel took part of the batch: let completions free room before trying again.
                    throw stalled(completed, target);
                }
            } else if (r == -Errno.EAGAIN) {
                if (runOnce() == 0) {
                    throw stalled(completed, target);
                }
            } else {
                throw new IllegalStateException(path.placement() + ": io_submit refused: " + Errno.name(r));
            }
        }
        awaitCompletions(target);
    }

    /** Runs until the app has seen {@code target} completions in all. */
    @Override
    public void awaitCompletions(long target) {
        runUntil(completed, target);
    }

    /** Runs the parties until {@code progress} reaches {@code target}; fails when none has work before. */
    @Override
    public void runUntil(LongSupplier progress, long target) {
        while (progress.getAsLong() < target) {
            if (runOnce() == 0) {
                throw stalled(progress, target);
            }
        }
    }

    private IllegalStateException stalled(LongSupplier progress, long target) {
        return new IllegalStateException(path.placement() + ": stalled with " + (target - progress.getAsLong())
            + " I/Os outstanding and no party has work (a lost completion or interrupt)");
    }

    @Override
    public IoPath path() {
        return path;
    }

    /** Nothing to stop: the inline executor starts no threads. */
    @Override
    public void close() {
    }
}
