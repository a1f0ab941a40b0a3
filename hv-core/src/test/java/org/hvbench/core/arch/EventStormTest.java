package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.BitSet;
import java.util.Locale;
import java.util.function.LongSupplier;
import java.util.stream.Stream;

import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.exec.Executor;
import org.hvbench.core.exec.IdleMode;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.GrantMode;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.hv.VirtualInterruptHandler;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.ring.FrontRing;
import org.hvbench.core.ring.SharedRing;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An event storm from a hostile back end (the class of Xen advisory XSA-391: a back end floods its
 * front end with events so that the guest spends all its time in upcalls) cannot starve the guest,
 * in either event layout and either executor.
 *
 * <p>The guest has two devices: its block front end on the io-partition's well-behaved back end, and
 * a console-like channel to a hostile driver domain. The console driver does what Xen's does: on an
 * event it reads what came and tells the back end so, by an event. The hostile back end answers every
 * such event at once with a burst of {@value #BURST} sends of the same port. The two sustain each
 * other: each handler run makes the port pending again before the upcall looks once more, so an
 * upcall that took events until none were left would never return. The kernel's upcall stops at its
 * bound (two-level: {@value IoPartitionPlacement#EVENT_ROUNDS} rounds; FIFO:
 * {@value BasePlacement#FIFO_EVENTS_PER_UPCALL} events) and the hypervisor delivers the rest at the
 * CPU's next interrupt delivery, after what the upcall interrupted has run.
 *
 * <p>Proved, as counts: the storm keeps running (round trips grow, the bound is hit); no upcall
 * handles more storm events than the bound; between two turns of the guest's application the storm
 * gets at most two upcalls' worth (the re-delivery, and with FIFO events the upcall that the
 * well-behaved partition's event brings in the same round); the application's block I/O keeps
 * completing during the storm
 * (inline: in every window of {@value #WINDOW} scheduling rounds, over {@value #ROUNDS} rounds;
 * threaded: {@value #ROUNDS} completions, each wait bounded by the executor's stall timeout); and
 * when the storm ends nothing was lost: every I/O answered exactly once, no event left pending.
 *
 * <p>Without the bound, the upcall livelocks: the hostile back end's watchdog fails the test. Without
 * the re-delivery ({@link Hypervisor#deferUpcall}) the events left at the bound wait behind a set
 * upcall_pending that no send clears, and the block I/O stops. And the console handler runs after
 * the block front end's in the same upcall, which signalled the app: it must run, and send, from the
 * kernel, not from where the app's signal left the CPU.
 */
class EventStormTest {
    /** Sends of the same port per answer: all but the first coalesce in the pending bit. */
    static final int BURST = 8;
    static final int ROUNDS = 200;
    static final int WINDOW = 10;
    static final int DEPTH = 4;
    /** Storm round trips between two turns of the app that mean the guest never left its upcall. */
    static final long LIVELOCK = 100L * BasePlacement.FIFO_EVENTS_PER_UPCALL;

    private Hypervisor hv;
    private Domain evil;
    private EventDispatcher evilEvents;
    private int evilPort;
    private int consolePort;
    private boolean storming;
    private long roundTrips;
    private long roundTripsAtAppTurn;
    private long mostBetweenAppTurns;
    private long upcalls;
    private long stormEventsThisUpcall;
    private long mostPerUpcall;

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (String events : new String[] {"two-level", "fifo"}) {
            for (Executor.Kind kind : Executor.Kind.values()) {
                cases.add(Arguments.of(events, kind));
            }
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void aBackEndsEventStormCannotStarveTheGuest(String layout, Executor.Kind kind) {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(8L << 20).events(layout);
        try (IoPath path = Placement.IO_PARTITION.open(config, 1, GrantMode.PERSISTENT, kind.layout())) {
            IoPartitionPlacement placement = (IoPartitionPlacement) path;
            hv = placement.hypervisor();
            Cpu cpu = path.cpu();
            Ids ids = new Ids();
            IoPartitionPlacement.Guest guest = placement.addGuest("victim", DEPTH, 0, 4096, ids);
            long buffer = guest.app.allocateBuffer(DEPTH * 4096);
            connectConsole(placement, guest);
            countUpcalls(guest);
            int bound = "fifo".equals(layout) ? BasePlacement.FIFO_EVENTS_PER_UPCALL : IoPartitionPlacement.EVENT_ROUNDS - 1;

            try (Executor executor = kind.start(path, IdleMode.BACKOFF)) {
                // The console driver notifies its back end once (it wrote something); the hostile
                // back end's answer starts the storm, which then sustains itself.
                storming = true;
                cpu.idleSwitch(guest.domain.kernel());
                guest.events.send(cpu, consolePort);
                appRan();
                long stormStart = roundTrips;
                long before = guest.app.completed();
                if (kind == Executor.Kind.INLINE) {
                    InlineExecutor inline = (InlineExecutor) executor;
                    long last = guest.app.completed();
                    int quiet = 0;
                    for (int round = 0; round < ROUNDS; round++) {
                        appTurn(cpu, guest, ids, buffer);
                        inline.runOnce();
                        long now = guest.app.completed();
                        quiet = now == last ? quiet + 1 : 0;
                        last = now;
                        if (quiet >= WINDOW) {
                            fail("no block I/O completed in " + WINDOW + " scheduling rounds during the storm (round " + round
                                + ", " + (roundTrips - stormStart) + " storm round trips)");
                        }
                    }
                } else {
                    // The executor's stall timeout bounds each wait: a run that stops completing fails.
                    // It asks for progress between two interrupt deliveries: a turn of the app.
                    LongSupplier progress = () -> {
                        appRuns();
                        appRan();
                        return guest.app.completed();
                    };
                    while (guest.app.completed() - before < ROUNDS) {
                        long done = guest.app.completed();
                        appTurn(cpu, guest, ids, buffer);
                        executor.runUntil(progress, done + 1);
                    }
                }
                long completedInStorm = guest.app.completed() - before;
                long stormRoundTrips = roundTrips - stormStart;
                long deferred = deferred(guest);

                // The storm ends: the hostile back end stops answering; what is in flight completes.
                storming = false;
                executor.runUntil(guest.app::completed, ids.issued);
                LoadRun.quiesce(executor, path);
                System.out.printf(Locale.ROOT, "storm: %s %s: %,d storm round trips, %,d upcalls, %,d cut at the bound"
                        + " (at most %d storm events per upcall, %d between two app turns); %,d block I/Os completed during"
                        + " the storm%n", layout, kind.id(), stormRoundTrips, upcalls, deferred, mostPerUpcall,
                    mostBetweenAppTurns, completedInStorm);

                assertTrue(stormRoundTrips > 10L * bound, "the storm ran: " + stormRoundTrips + " round trips");
                assertTrue(deferred > 0, "the upcall hit its bound");
                assertTrue(mostPerUpcall <= bound, "storm events in one upcall: " + mostPerUpcall + ", bound " + bound);
                assertTrue(mostBetweenAppTurns <= 2L * bound,
                    "storm events between two turns of the app: " + mostBetweenAppTurns + ", bound per upcall " + bound);
                assertTrue(completedInStorm >= ROUNDS / WINDOW, "block I/Os completed during the storm: " + completedInStorm);
                ids.assertAllAnsweredOnce(guest);
            }
            Domain partition = placement.partition();
            for (Domain d : new Domain[] {guest.domain, evil, partition}) {
                LoadRun.assertNoEventPending(placement, d);
            }
        }
    }

    /**
     * A back end that keeps rsp_prod moving, one response more with every event, ids nobody asked
     * for, gets no more of the front end's work than the requests it has outstanding: the front end
     * takes that many (and drops them: unknown ids), stops the ring at the first response beyond, and
     * every later upcall for it returns at once. The events come from the hypervisor as it passes a
     * hostile partition's sends on.
     */
    @ParameterizedTest
    @ValueSource(strings = {"two-level", "fifo"})
    void aBackEndThatKeepsRspProdMovingGetsItsRingStoppedAfterTheRequestsOutstanding(String layout) {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(8L << 20).events(layout);
        try (IoPath path = Placement.IO_PARTITION.open(config, 1)) {
            IoPartitionPlacement placement = (IoPartitionPlacement) path;
            Cpu cpu = path.cpu();
            MachineMemory memory = path.machine().memory();
            Ids ids = new Ids();
            IoPartitionPlacement.Guest guest = placement.addGuest("victim", DEPTH, 0, 4096, ids);
            countUpcalls(guest);
            // DEPTH requests on the ring; the device has not run, so none is answered.
            appTurn(cpu, guest, ids, guest.app.allocateBuffer(DEPTH * 4096));
            FrontRing ring = guest.front.ring();
            int outstanding = ring.requestProducer() - ring.responseConsumer();
            assertEquals(DEPTH, outstanding);

            long page = ring.nextRequest() & ~MachineMemory.PAGE_MASK;
            int rspProd = memory.getIntVolatile(page + SharedRing.RSP_PROD);
            int events = 1000;
            for (int i = 0; i < events; i++) {
                long slot = page + SharedRing.SLOTS + (long) (rspProd & (ring.size() - 1)) * BlockProtocol.REQUEST_BYTES;
                memory.putLong(slot + BlockProtocol.RESPONSE_ID, 1_000_000 + i);
                memory.putShort(slot + BlockProtocol.RESPONSE_STATUS, (short) 0);
                memory.putIntRelease(page + SharedRing.RSP_PROD, ++rspProd);
                placement.channels().deliver(cpu, guest.domain, guest.front.port(), "a hostile partition's event");
            }
            assertTrue(guest.front.broken(), "the ring is stopped");
            assertEquals(outstanding + 1, guest.front.badResponses(), "the unknown ids taken, then the response beyond");
            assertEquals(ring.requestProducer(), ring.responseConsumer(), "responses consumed up to the requests, no further");
            assertEquals(events, upcalls, "one short upcall per event");
            assertEquals(0, guest.app.completed(), "nothing completed on a stopped ring");
            assertEquals(0, guest.kernel.badCompletions());
        }
    }

    /** The app runs: the storm events since its last turn ended are counted. */
    private void appRuns() {
        mostBetweenAppTurns = Math.max(mostBetweenAppTurns, roundTrips - roundTripsAtAppTurn);
    }

    /** The app's turn ends (the hostile back end's watchdog counts from here). */
    private void appRan() {
        roundTripsAtAppTurn = roundTrips;
    }

    /** The app's turn: keeps its block I/O queue full. */
    private void appTurn(Cpu cpu, IoPartitionPlacement.Guest guest, Ids ids, long buffer) {
        appRuns();
        int free = DEPTH - guest.kernel.inFlight();
        if (free == 0) {
            appRan();
            return;
        }
        for (int i = 0; i < free; i++) {
            long id = ids.issued + i;
            int op = (id & 1) == 0 ? Aio.PWRITE : Aio.PREAD;
            guest.app.prepare(cpu, i, op, (id % 512) * 4096, buffer + (id % DEPTH) * 4096, 4096, id);
        }
        cpu.idleSwitch(guest.kernel.appContext());
        ids.issued += free;
        long r = guest.app.submit(cpu, 0, free);
        assertEquals(free, r, "io_submit");
        appRan();
    }

    /**
     * A console-like channel between the guest and a hostile driver domain. The guest's driver reads
     * what came and tells the back end (an event); the back end answers each event with {@link #BURST}
     * sends while the storm lasts.
     */
    private void connectConsole(IoPartitionPlacement placement, IoPartitionPlacement.Guest guest) {
        Cpu cpu = placement.cpu();
        evil = hv.createDomain("evil", "driver", 1L << 20, false);
        // Its vCPU is the app's CPU: a domain with none would take its upcalls on whichever CPU
        // delivers, the partition's thread too under the threaded executor, where a burst sent after
        // the storm ended could land once the run had gone quiet (and the counts here are one thread's).
        hv.runOn(evil, cpu);
        cpu.start(evil.kernel());
        evilEvents = new EventDispatcher(hv, evil, placement.machine().memory(), cpu.view(evil.space()), evil.sharedInfoGpa(), 4);
        evil.setVirqHandler(evilEvents);

        cpu.start(guest.domain.kernel());
        consolePort = (int) hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, evil.id(), 0, 0);
        assertTrue(consolePort > 0);
        guest.events.bind(consolePort, (c, port) -> {
            stormEventsThisUpcall++;
            assertEquals(0, guest.events.send(c, port), "the console driver's event, sent from its kernel");
        });

        cpu.start(evil.kernel());
        evilPort = (int) hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, guest.domain.id(),
            consolePort, 0);
        assertTrue(evilPort > 0);
        evilEvents.bind(evilPort, (c, port) -> {
            if (!storming) {
                return;
            }
            roundTrips++;
            if (roundTrips - roundTripsAtAppTurn > LIVELOCK) {
                storming = false;
                throw new AssertionError("the guest answered " + LIVELOCK + " storm events without its app running once:"
                    + " its upcall does not bound its work");
            }
            for (int i = 0; i < BURST; i++) {
                evilEvents.send(c, port);
            }
        });
        cpu.start(placement.app().kernel().appContext());
    }

    /** Wraps the guest's upcall to count storm events per upcall. */
    private void countUpcalls(IoPartitionPlacement.Guest guest) {
        VirtualInterruptHandler upcall = (VirtualInterruptHandler) guest.events;
        guest.domain.setVirqHandler(c -> {
            upcalls++;
            stormEventsThisUpcall = 0;
            upcall.onVirq(c);
            mostPerUpcall = Math.max(mostPerUpcall, stormEventsThisUpcall);
        });
    }

    private static long deferred(IoPartitionPlacement.Guest guest) {
        return guest.events instanceof FifoDispatcher ? ((FifoDispatcher) guest.events).deferred()
            : ((EventDispatcher) guest.events).deferred();
    }

    /** The app's completions by id: each issued id answered once, with the whole transfer. */
    private static final class Ids implements App.CompletionListener {
        long issued;
        final BitSet answered = new BitSet();

        @Override
        public void onCompletion(Cpu cpu, long id, int result) {
            if (id < 0 || id >= issued || answered.get((int) id)) {
                fail("a completion for id " + id + (id >= 0 && id < issued ? ", answered already" : ", never issued"));
            }
            assertEquals(4096, result, "id " + id);
            answered.set((int) id);
        }

        void assertAllAnsweredOnce(IoPartitionPlacement.Guest guest) {
            assertEquals(issued, answered.cardinality());
            assertEquals(issued, guest.app.completed());
            assertEquals(0, guest.kernel.inFlight());
            assertEquals(0, guest.front.badResponses());
            assertFalse(guest.front.broken());
        }
    }
}
