package org.hvbench.core.arch;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.RequestObserver;
import org.hvbench.core.guest.Store;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.Domain;

/**
 * Guests side by side on one placement, each with a virtual disk of its own (disjoint extents): what a
 * covert channel or a traffic-flow observer needs. Where the placement shares a driver (in the
 * hypervisor, in an I/O partition, in the partition's emulator, the channel-program hypervisor) they
 * are guests of one machine and reach the one device through that driver. Where it gives each guest
 * a device of its own ({@code passthrough}, {@code passthrough-posted}, {@code channel-program-iommu}),
 * each guest gets a machine of its own: a device, its IOMMU context and its CPU, which is what device
 * assignment buys, and there is nothing between the guests at all.
 *
 * <p>In the shared placements with an I/O partition the path's own guest (which holds the whole disk)
 * stays idle; in the hypervisor's, it is shrunk to the last extent. No guest of these has a page, a
 * grant or an event channel with another: each grants only to the partition, and each binds events
 * only with the partition or the hypervisor.
 */
public final class Tenants implements AutoCloseable {
    private final Placement placement;
    private final List<IoPath> paths = new ArrayList<>();
    private final List<Guest> guests = new ArrayList<>();
    private final boolean sharedDriver;

    private Tenants(Placement placement, boolean sharedDriver) {
        this.placement = placement;
        this.sharedDriver = sharedDriver;
    }

    /**
     * Boots {@code count} guests on {@code placement}, each keeping up to {@code depth} I/Os in flight.
     *
     * @throws IllegalArgumentException for {@code native} (no guests) or a count outside 1 to 16
     */
    public static Tenants open(Placement placement, MachineConfig config, int count, int depth) {
        return open(placement, config, count, depth, CpuLayout.ONE_CPU);
    }

    /**
     * As {@link #open(Placement, MachineConfig, int, int)}, on {@code layout}'s CPUs: with
     * {@link CpuLayout#CPU_PER_DOMAIN} an I/O partition runs on a CPU of its own (the guests share the
     * path's CPU), for the threaded executor.
     */
    public static Tenants open(Placement placement, MachineConfig config, int count, int depth, CpuLayout layout) {
        if (placement == Placement.NATIVE) {
            throw new IllegalArgumentException("placement: native has no guests; guests side by side need a placement with a hypervisor");
        }
        if (count < 1 || count > 16) {
            throw new IllegalArgumentException("guests: " + count + " is not allowed; use 1 to 16");
        }
        boolean shared = !placement.needsIommu();
        Tenants t = new Tenants(placement, shared);
        try {
            if (shared) {
                t.bootShared(config, count, depth, layout);
            } else {
                for (int k = 0; k < count; k++) {
                    IoPath p = placement.open(config, depth, GrantMode.PERSISTENT, layout);
                    t.paths.add(p);
                    Domain d = p instanceof PassthroughPlacement ? ((PassthroughPlacement) p).guest() : ((ChannelPlacement) p).guest();
                    t.guests.add(new Guest(p, d, p.app(), p.machine().backing().sectors()));
                }
            }
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    private void bootShared(MachineConfig config, int count, int depth, CpuLayout layout) {
        IoPath path = placement.open(config, depth, GrantMode.PERSISTENT, layout);
        paths.add(path);
        // Extent k for guest k; the last one for the path's own guest, where the placement can shrink it.
        long extent = path.machine().backing().sectors() / (count + 1);
        for (int k = 0; k < count; k++) {
            String name = "tenant" + k;
            long first = k * extent;
            Guest g;
            if (path instanceof HypervisorPlacement) {
                HypervisorPlacement h = (HypervisorPlacement) path;
                if (k == 0) {
                    h.assignOwnDisk(count * extent, extent);
                }
                g = h.addGuest(name, depth, first, extent);
            } else if (path instanceof ChannelPlacement) {
                ChannelPlacement c = (ChannelPlacement) path;
                if (k == 0) {
                    c.assignOwnDisk(count * extent, extent);
                }
                g = c.addGuest(name, depth, first, extent);
            } else if (path instanceof IoPartitionPlacement) {
                IoPartitionPlacement ip = (IoPartitionPlacement) path;
                IoPartitionPlacement.Guest pg = ip.addGuest(name, depth, first, extent, null);
                g = new Guest(path, pg.domain, pg.app, extent, pg.grants, ip.channels(), ip.store());
            } else {
                EmulatorPlacement ep = (EmulatorPlacement) path;
                EmulatorPlacement.Guest eg = ep.addGuest(name, depth, first, extent, null);
                g = new Guest(path, eg.domain, eg.app, extent, null, ep.channels(), null);
            }
            guests.add(g);
        }
    }

    public Placement placement() {
        return placement;
    }

    /** True when the guests' I/O goes through one driver to one device; false when each has its own. */
    public boolean sharedDriver() {
        return sharedDriver;
    }

    public int count() {
        return guests.size();
    }

    public Guest guest(int k) {
        return guests.get(k);
    }

    /**
     * {@code io-partition}: hands what the partition's back end sees of every request to {@code o},
     * as a hostile driver domain would log it.
     *
     * @throws IllegalArgumentException for another placement
     */
    public void observeRequests(RequestObserver o) {
        if (placement != Placement.IO_PARTITION) {
            throw new IllegalArgumentException("placement: " + placement + " has no driver domain's back end to observe; use io-partition");
        }
        ((IoPartitionPlacement) paths.get(0)).back().observe(o);
    }

    /**
     * What the hypervisor and the toolstack show guests {@code a} and {@code b} share, or an empty
     * list: a frame of one in the other's guest-physical map, an event channel between them, a grant
     * from one to the other (each guest's grant table, where it has one), a store entry of one naming
     * the other.
     */
    public List<String> sharedBetween(int a, int b) {
        List<String> found = new ArrayList<>();
        Guest ga = guests.get(a);
        Guest gb = guests.get(b);
        for (Guest[] pair : new Guest[][] {{ga, gb}, {gb, ga}}) {
            Guest x = pair[0];
            Guest y = pair[1];
            if (x.path.machine() == y.path.machine()) {
                for (long gfn = 0; gfn < x.domain.pages(); gfn++) {
                    long mfn = x.domain.machineFrame(gfn);
                    if (mfn >= 0 && x.path.machine().frames().owner(mfn) == y.domain.id()) {
                        found.add(x + " maps frame " + mfn + " of " + y + " at gfn " + gfn);
                    }
                }
            }
            if (x.grants != null) {
                for (int ref = 0; ref < x.grants.entries(); ref++) {
                    int word = x.grants.word(ref);
                    if (word > 0 && GrantEntry.domid(word) == y.domain.id()
                        && (GrantEntry.flags(word) & GrantEntry.TYPE_MASK) != 0) {
                        found.add(x + " grants reference " + ref + " to " + y);
                    }
                }
            }
            if (x.channels != null && x.channels.boundBetween(x.domain, y.domain)) {
                found.add(x + " has an event channel to " + y);
            }
            if (x.store != null && y.path.machine() == x.path.machine()) {
                long backend = x.store.read(Store.vbd(x.domain.id()) + Store.BACKEND);
                if (backend == y.domain.id()) {
                    found.add("the store names " + y + " as " + x + "'s back end");
                }
            }
        }
        return found;
    }

    @Override
    public void close() {
        for (IoPath p : paths) {
            p.close();
        }
        paths.clear();
    }

    /** One guest: its app, its kernel's and app's contexts, and the path that runs it. */
    public static final class Guest {
        private final IoPath path;
        private final Domain domain;
        private final App app;
        private final long sectors;
        /** What the toolstack can inspect of it, where the placement has them; else null. */
        private final GrantTable grants;
        private final EventChannels channels;
        private final Store store;

        Guest(IoPath path, Domain domain, App app, long sectors) {
            this(path, domain, app, sectors, null, null, null);
        }

        Guest(IoPath path, Domain domain, App app, long sectors, GrantTable grants, EventChannels channels, Store store) {
            this.path = path;
            this.domain = domain;
            this.app = app;
            this.sectors = sectors;
            this.grants = grants;
            this.channels = channels;
            this.store = store;
        }

        /** The placement (machine) this guest runs on: its executor runs it. */
        public IoPath path() {
            return path;
        }

        public App app() {
            return app;
        }

        public Cpu cpu() {
            return path.cpu();
        }

        public Domain domain() {
            return domain;
        }

        /** Its kernel's grant table where the placement gives it one (the split drivers); else null. */
        GrantTable grants() {
            return grants;
        }

        public Context appContext() {
            return domain.app();
        }

        /** Sectors of its virtual disk. */
        public long sectors() {
            return sectors;
        }

        /** Modelled picoseconds of the work done in this guest's own contexts (its app and its kernel). */
        public long ownPicos() {
            return domain.app().picos() + domain.kernel().picos();
        }

        @Override
        public String toString() {
            return domain.toString();
        }
    }
}
