package org.hvbench.core.covert;

import org.hvbench.core.Errno;
import org.hvbench.core.arch.IoPath;
import org.hvbench.core.arch.Tenants;
import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;

/**
 * Runs one guest's I/Os through its real path, one at a time, and says what each cost: the modelled
 * picoseconds of the guest's own contexts (its app and kernel) and of everything else (the
 * hypervisor, the partition's kernel, its emulator, the device and the IOMMU: the driver side), and
 * the nanoseconds the JVM took. Each I/O is checked: it must complete with its full length.
 */
final class PricedIo {
    private static final long SECTOR = 512;

    private final Tenants.Guest guest;
    private final IoPath path;
    private final Cpu cpu;
    private final App app;
    private final InlineExecutor executor;
    private final Context idle;
    private final long[] buffers;
    private final long sectors;
    private long userData;
    private long nextSector;
    private long ownPicos;
    private long driverPicos;
    private long wallNanos;
    private long bytes;

    /** @param buffers buffers of {@code maxBytes} to use in turn (one per I/O the guest may have in flight) */
    PricedIo(Tenants.Guest guest, int buffers, int maxBytes) {
        this.guest = guest;
        this.path = guest.path();
        this.cpu = guest.cpu();
        this.app = guest.app();
        this.executor = new InlineExecutor(path);
        this.idle = path.app().kernel().appContext();
        this.buffers = new long[buffers];
        cpu.idleSwitch(guest.appContext());
        for (int i = 0; i < buffers; i++) {
            this.buffers[i] = app.allocateBuffer(maxBytes);
        }
        this.sectors = guest.sectors();
    }

    /**
     * Reads {@code length} bytes from the next sectors of the guest's disk (wrapping at its end) into
     * buffer {@code buffer}; afterwards {@link #ownPicos}, {@link #driverPicos} and {@link #wallNanos}
     * say what it cost.
     *
     * @throws IllegalStateException when the kernel refuses it, it fails, or the path stalls
     */
    void read(int buffer, int length) {
        run(Aio.PREAD, buffer, nextSector(length), length);
    }

    /** The sector for the next {@code length} bytes of the guest's disk, read in turn and wrapping at its end. */
    long nextSector(int length) {
        long span = length / SECTOR;
        if (nextSector + span > sectors) {
            nextSector = 0;
        }
        long sector = nextSector;
        nextSector += span;
        return sector;
    }

    /**
     * Fills control block {@code slot} for one {@code opcode} of {@code length} bytes at {@code sector}
     * with buffer {@code buffer} and submits it, without waiting (the CPU must be in the guest's app).
     *
     * @return its user data, for {@link #check}
     * @throws IllegalStateException when the kernel refuses it
     */
    long submit(int opcode, int slot, int buffer, long sector, int length) {
        long id = ++userData;
        app.prepare(cpu, slot, opcode, sector * SECTOR, buffers[buffer], length, id);
        long r = app.submit(cpu, slot, 1);
        if (r != 1) {
            throw new IllegalStateException(path.placement() + ": " + guest + "'s io_submit refused: " + (r < 0 ? Errno.name(r) : r + " taken"));
        }
        return id;
    }

    /** The completed I/O {@code id} returned its full {@code length}; counts its bytes. */
    void check(long id, int opcode, int length) {
        long result = app.result(id);
        if (result != length) {
            throw new IllegalStateException(path.placement() + ": " + guest + "'s " + (opcode == Aio.PREAD ? "read" : "write")
                + " of " + length + " bytes returned "
                + (result < 0 ? Errno.name(result) : Long.toString(result)));
        }
        bytes += length;
    }

    /**
     * Runs one {@code opcode} ({@link Aio#PREAD} or {@link Aio#PWRITE}) of {@code length} bytes at
     * {@code sector} of the guest's disk with buffer {@code buffer}, and prices it.
     */
    void run(int opcode, int buffer, long sector, int length) {
        long own0 = guest.ownPicos();
        long all0 = path.modelledPicos();
        long wall0 = System.nanoTime();
        // Every I/O starts from a cold TLB, as each guest would on a CPU of its own after the
        // hypervisor ran: what another guest did to the shared CPU's TLB must not reach this one.
        // Likewise the switch into the guest always starts from the path's own idle app, whichever
        // guest ran last, so the switch costs every I/O the same.
        cpu.tlb().flushAll();
        cpu.start(idle);
        cpu.idleSwitch(guest.appContext());
        cpu.setOriginator(guest.appContext());
        long done = app.completed() + 1;
        long id = submit(opcode, 0, buffer, sector, length);
        while (app.completed() < done) {
            if (executor.runOnce(guest.appContext()) == 0 && app.completed() < done) {
                throw new IllegalStateException(path.placement() + ": " + guest + "'s read stalled: no party has work");
            }
        }
        wallNanos = System.nanoTime() - wall0;
        check(id, opcode, length);
        long own = guest.ownPicos() - own0;
        ownPicos = own;
        driverPicos = path.modelledPicos() - all0 - own;
    }

    /** The guest-virtual address of buffer {@code i}. */
    long buffer(int i) {
        return buffers[i];
    }

    App app() {
        return app;
    }

    long ownPicos() {
        return ownPicos;
    }

    long driverPicos() {
        return driverPicos;
    }

    long wallNanos() {
        return wallNanos;
    }

    /** Bytes read and checked so far. */
    long bytes() {
        return bytes;
    }
}
