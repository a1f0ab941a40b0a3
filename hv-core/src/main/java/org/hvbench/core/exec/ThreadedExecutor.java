package org.hvbench.core.exec;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.AgentTerminationException;
import org.hvbench.core.Errno;
import org.hvbench.core.arch.IoPath;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Sleeper;
import org.hvbench.core.dev.BlockDevice;
import org.hvbench.core.guest.App;
import org.hvbench.core.iommu.Iommu;

/**
 * Runs a placement with each concurrently running party on a thread of its own (DESIGN section 7):
 * the device (with the IOMMU's translations) and every CPU other than the application's are Agrona
 * agents on their own threads; the application's CPU is driven by the calling thread, which submits
 * and then takes its CPU's interrupts until the completions are back. Hypercalls run on the thread
 * of the CPU that makes them. Work crosses threads only through the device's doorbell, interrupt
 * controllers, event bitmaps, shared rings and the IOMMU's request ring, all lock-free; a party that
 * may be asleep is woken through its {@link Sleeper} ({@code LockSupport.unpark}), one that is
 * running is not.
 *
 * <p>Failures are loud: an exception on a party's thread stops that party and is rethrown on the
 * application's thread, naming the party; a run that makes no progress for the stall timeout throws
 * with every party's state; closing stops every thread this executor started and names any that did
 * not stop in time (the machine must then not be freed under it).
 *
 * <p>Build the path with {@link Executor.Kind#THREADED}'s layout, so that a partition has a CPU of
 * its own; on a path with one CPU, the device alone gets a thread.
 */
public final class ThreadedExecutor implements Executor {
    /** How long a run may go without a completion before it is reported as stalled. */
    public static final long STALL_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** How long {@link #close} waits for each party's thread. */
    public static final int CLOSE_TIMEOUT_MS = 5_000;

    private final IoPath path;
    private final App app;
    private final Cpu cpu;
    private final Context appContext;
    private final Sleeper appSleeper;
    /** The app's completions, made once: awaiting them allocates nothing. */
    private final LongSupplier completed;
    private final long stallTimeoutNanos;
    private final List<AgentRunner> runners = new ArrayList<>();
    private final List<Party> parties = new ArrayList<>();
    private final CountDownLatch started;
    private volatile Throwable failure;
    private volatile String failedParty;
    private boolean closed;

    public ThreadedExecutor(IoPath path, IdleMode idle) {
        this(path, idle, STALL_TIMEOUT_NANOS);
    }

    /** @param stallTimeoutNanos how long a run may go without a completion before it fails */
    public ThreadedExecutor(IoPath path, IdleMode idle, long stallTimeoutNanos) {
        if (stallTimeoutNanos <= 0) {
            throw new IllegalArgumentException("stall timeout must be positive; got " + stallTimeoutNanos + " ns");
        }
        this.path = path;
        this.app = path.app();
        this.cpu = path.cpu();
        this.appContext = app.kernel().appContext();
        this.completed = app::completed;
        this.stallTimeoutNanos = stallTimeoutNanos;
        cpu.setOriginator(appContext);
        cpu.setOwner(Thread.currentThread());
        appSleeper = cpu.sleeper();
        appSleeper.use(idle.newStrategy());
        cpu.interrupts().setWakeup(appSleeper::wake);

        Cpu[] cpus = path.cpus();
        started = new CountDownLatch(cpus.length);
        BlockDevice device = path.machine().device();
        Iommu iommu = path.machine().iommu();
        Sleeper deviceSleeper = new Sleeper(device::hasWork);
        deviceSleeper.use(idle.newStrategy());
        device.setWakeup(deviceSleeper::wake);
        start(new Party("device", device::doWork, deviceSleeper) {
            @Override
            public void onStart() {
                iommu.setOwner(Thread.currentThread(), deviceSleeper::wake);
                super.onStart();
            }

            @Override
            public void onClose() {
                iommu.setOwner(null, null);
            }
        });
        for (Cpu other : cpus) {
            if (other == cpu) {
                continue;
            }
            other.sleeper().use(idle.newStrategy());
            other.interrupts().setWakeup(other.sleeper()::wake);
            start(new Party(other.name(), other::deliverInterrupts, other.sleeper()) {
                @Override
                public void onStart() {
                    other.setOwner(Thread.currentThread());
                    super.onStart();
                }
            });
        }
        try {
            if (!started.await(CLOSE_TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                close();
                throw new IllegalStateException(path.placement() + ": parties did not start within " + CLOSE_TIMEOUT_MS + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new IllegalStateException(path.placement() + ": interrupted while the parties started", e);
        }
    }

    private void start(Party party) {
        parties.add(party);
        AgentRunner runner = new AgentRunner(party.sleeper, t -> { }, null, party);
        runners.add(runner);
        AgentRunner.startOnThread(runner, r -> {
            Thread t = new Thread(r, party.roleName());
            t.setDaemon(true);
            return t;
        });
    }

    /** One turn of the application's CPU: its pending interrupts, then back to the app. */
    private int step() {
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException(path.placement() + ": party " + failedParty + " failed: " + f, f);
        }
        int work = cpu.deliverInterrupts();
        if (work > 0) {
            cpu.idleSwitch(appContext);
            cpu.rest();
        }
        return work;
    }

    @Override
    public void runBatch(int count) {
        long target = app.completed() + count;
        cpu.rest();
        int submitted = 0;
        long seen = app.completed();
        long since = System.nanoTime();
        while (submitted < count) {
            long r = app.submit(cpu, submitted, count - submitted);
            if (r > 0) {
                submitted += (int) r;
            } else if (r != -Errno.EAGAIN) {
                throw new IllegalStateException(path.placement() + ": io_submit refused: " + Errno.name(r));
            }
            if (submitted < count) {
                // The kernel took part of the batch: completions free room.
                int work = step();
                long now = app.completed();
                if (now != seen) {
                    seen = now;
                    since = System.nanoTime();
                } else {
                    idleOrStall(work, since, completed, target);
                }
            }
        }
        awaitCompletions(target);
    }

    @Override
    public void awaitCompletions(long target) {
        runUntil(completed, target);
    }

    /**
     * Takes the application CPU's interrupts until {@code progress} reaches {@code target}; fails when
     * it stays put for the stall timeout, whether the CPU idled or kept busy (an event storm).
     */
    @Override
    public void runUntil(LongSupplier progress, long target) {
        long seen = progress.getAsLong();
        long since = System.nanoTime();
        while (seen < target) {
            int work = step();
            long now = progress.getAsLong();
            if (now != seen) {
                seen = now;
                since = System.nanoTime();
            } else {
                idleOrStall(work, since, progress, target);
            }
        }
    }

    /** No progress since {@code since}: waits when there was no work, and fails after the stall timeout. */
    private void idleOrStall(int work, long since, LongSupplier progress, long target) {
        if (work == 0) {
            appSleeper.idle(0);
        }
        if (System.nanoTime() - since > stallTimeoutNanos) {
            throw new IllegalStateException(path.placement() + ": stalled " + TimeUnit.NANOSECONDS.toMillis(stallTimeoutNanos)
                + " ms with " + (target - progress.getAsLong()) + " I/Os outstanding; " + describe());
        }
    }

    /** Each party's thread and state, for a stall report. */
    public String describe() {
        StringBuilder b = new StringBuilder("app on ").append(cpu.name())
            .append(cpu.hasWork() ? " (interrupt pending)" : " (idle)");
        for (int i = 0; i < parties.size(); i++) {
            Thread t = runners.get(i).thread();
            b.append("; ").append(parties.get(i).name).append(" on ")
                .append(t == null || t == AgentRunner.TOMBSTONE ? "no thread" : t.getName() + " " + t.getState());
        }
        return b.toString();
    }

    @Override
    public IoPath path() {
        return path;
    }

    /**
     * Stops every party's thread, the CPUs' before the device's. Threads that do not stop within
     * {@link #CLOSE_TIMEOUT_MS} each are named in the exception, and the caller must not free the
     * machine they may still touch.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<String> hung = new ArrayList<>();
        // CPUs first, the device (started first) last: a CPU stopping mid-hypercall may wait for the
        // device's thread to apply an IOTLB invalidation it posted (a grant unmap), and a device
        // stopped before it would leave that CPU waiting for the IOMMU's timeout.
        for (int i = runners.size() - 1; i >= 0; i--) {
            String name = parties.get(i).name;
            try {
                runners.get(i).close(CLOSE_TIMEOUT_MS, t -> {
                    throw new IllegalStateException(name + " (thread " + t.getName() + ", " + t.getState() + ")");
                });
            } catch (IllegalStateException e) {
                hung.add(e.getMessage());
            }
        }
        path.machine().device().setWakeup(null);
        for (Cpu c : path.cpus()) {
            c.interrupts().setWakeup(null);
            c.setOwner(null);
        }
        if (!hung.isEmpty()) {
            throw new IllegalStateException(path.placement() + ": parties did not stop within " + CLOSE_TIMEOUT_MS + " ms: "
                + String.join(", ", hung));
        }
    }

    /**
     * A party on its own thread: an exception stops it and is handed to the application's thread,
     * which throws it with the party's name.
     */
    private class Party implements Agent {
        final String name;
        final IntSupplier work;
        final Sleeper sleeper;

        Party(String name, IntSupplier work, Sleeper sleeper) {
            this.name = name;
            this.work = work;
            this.sleeper = sleeper;
        }

        @Override
        public void onStart() {
            started.countDown();
        }

        @Override
        public int doWork() {
            try {
                return work.getAsInt();
            } catch (Throwable t) {
                if (failure == null) {
                    failedParty = name;
                    failure = t;
                }
                appSleeper.wake();
                throw new AgentTerminationException(t);
            }
        }

        /** The thread's name (Agrona names the thread after it). */
        @Override
        public String roleName() {
            return "hvbench-" + path.placement().id() + "-" + name;
        }
    }
}
