package org.hvbench.core.covert;

import java.util.Arrays;
import java.util.function.LongSupplier;

import org.hvbench.core.arch.CpuLayout;
import org.hvbench.core.arch.Tenants;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.exec.ThreadedExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;

/**
 * The covert channel on the {@link TimeSource#THREADED} clock: no timeline, no scheduler of ours. The
 * placement runs under the threaded executor (the device, and a partition's CPU, each on a thread of
 * its own); the calling thread is the guests' CPU, which both guests share as two vCPUs share one
 * physical CPU: what the sender does on it reaches the receiver too (a CPU channel, in the control as
 * well), beside what the shared driver passes on. In each 1-period it keeps the sender's four 64 KiB
 * reads in flight, topping them up between the receiver's reads; the receiver submits one 4 KiB read at
 * a time and waits for it, and its completions are counted per period of {@code System.nanoTime}. The
 * drivers serve as they do (ring order, the device's queue order: FIFO), so only {@link Scheduler#FIFO}
 * exists here. Where each guest has a machine of its own (the control), each machine has its executor.
 */
final class ThreadedChannel {
    private static final int WARM_UP_READS = 512;

    private ThreadedChannel() {
    }

    static ChannelResult run(CovertChannel.Settings s, boolean[] message) {
        if (s.scheduler != Scheduler.FIFO) {
            throw new IllegalArgumentException("scheduler: the threaded clock runs the drivers as they are (fifo); "
                + s.scheduler + " exists only on the modelled and measured clocks");
        }
        long wall0 = System.nanoTime();
        boolean[] sent = CovertChannel.withPreamble(s, message);
        try (Tenants tenants = Tenants.open(s.placement, s.config, 2, s.senderDepth, CpuLayout.CPU_PER_DOMAIN)) {
            Tenants.Guest senderGuest = tenants.guest(CovertChannel.SENDER);
            Tenants.Guest receiverGuest = tenants.guest(CovertChannel.RECEIVER);
            ThreadedExecutor senderExecutor = new ThreadedExecutor(senderGuest.path(), IdleMode.BACKOFF);
            ThreadedExecutor receiverExecutor = tenants.sharedDriver() ? senderExecutor
                : new ThreadedExecutor(receiverGuest.path(), IdleMode.BACKOFF);
            try {
                Guest sender = new Guest(senderGuest, s.senderDepth, s.senderBytes);
                Guest receiver = new Guest(receiverGuest, 1, s.probeBytes);
                for (int i = 0; i < WARM_UP_READS; i++) {
                    sender.submit();
                    senderExecutor.runUntil(sender.completed, sender.submitted);
                    receiver.submit();
                    receiverExecutor.runUntil(receiver.completed, receiver.submitted);
                }
                long period = s.periodMicros * 1000L;
                int[] perPeriod = new int[sent.length];
                long[] latencies = new long[1024];
                int count = 0;
                long receiverReads = 0;
                long senderReads = sender.app.completed();
                long start = System.nanoTime();
                long end = start + period * sent.length;
                long now = start;
                while (now < end) {
                    int k = (int) ((now - start) / period);
                    if (sent[k]) {
                        // At most one top-up per receiver read: a driver that completes a read within
                        // the submit (the emulator's trapped start) must not keep the loop here.
                        for (int i = 0; i < s.senderDepth && sender.submitted - sender.app.completed() < s.senderDepth; i++) {
                            sender.submit();
                        }
                    }
                    long t0 = System.nanoTime();
                    receiver.submit();
                    receiverExecutor.runUntil(receiver.completed, receiver.submitted);
                    now = System.nanoTime();
                    receiver.check();
                    if (!tenants.sharedDriver()) {
                        // The sender's machine: take its completions, so that it can keep its reads in flight.
                        sender.cpu.deliverInterrupts();
                    }
                    int at = (int) ((now - start) / period);
                    if (at < perPeriod.length) {
                        perPeriod[at]++;
                    }
                    if (count == latencies.length) {
                        latencies = Arrays.copyOf(latencies, count * 2);
                    }
                    latencies[count++] = (now - t0) * 1000;
                    receiverReads++;
                }
                senderExecutor.runUntil(sender.completed, sender.submitted);
                senderReads = sender.app.completed() - senderReads;
                if (sender.app.errors() != 0 || receiver.app.errors() != 0) {
                    throw new IllegalStateException(s.placement + ": reads failed: sender " + sender.app.errors() + ", receiver "
                        + receiver.app.errors());
                }
                return CovertChannel.decode(s, TimeSource.THREADED, sent, perPeriod, tenants.sharedDriver(), latencies, count,
                    receiverReads, senderReads, (end - start) / 1e9, 0, 0, 0, sender.bytes + receiver.bytes, 0,
                    (System.nanoTime() - wall0) / 1e6);
            } finally {
                senderExecutor.close();
                if (receiverExecutor != senderExecutor) {
                    receiverExecutor.close();
                }
            }
        }
    }

    /** One guest's reads in flight: its control blocks and buffers in turn, cycling over its disk. */
    private static final class Guest {
        final Tenants.Guest guest;
        final PricedIo io;
        final App app;
        final Cpu cpu;
        final int depth;
        final int length;
        final LongSupplier completed;
        long submitted;
        long lastId;
        long bytes;

        Guest(Tenants.Guest guest, int depth, int length) {
            this.guest = guest;
            this.io = new PricedIo(guest, depth, length);
            this.app = guest.app();
            this.cpu = guest.cpu();
            this.depth = depth;
            this.length = length;
            this.completed = app::completed;
        }

        /** Submits one read (its slot is free: at most {@code depth} are in flight). */
        void submit() {
            int slot = (int) (submitted % depth);
            cpu.idleSwitch(guest.appContext());
            lastId = io.submit(Aio.PREAD, slot, slot, io.nextSector(length), length);
            submitted++;
            bytes += length;
        }

        /** The last read returned its full length. */
        void check() {
            io.check(lastId, Aio.PREAD, length);
        }
    }
}
