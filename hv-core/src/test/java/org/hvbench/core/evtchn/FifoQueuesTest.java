package org.hvbench.core.evtchn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.hvbench.core.Errno;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The FIFO protocol on bare machine memory: the hypervisor's {@link FifoQueues} and a kernel's
 * {@link FifoDispatcher} (identity translation, no hypervisor), so each step can be checked. The
 * test thread is the vCPU's own CPU: it drains the inbox, as the hypervisor does before an upcall.
 */
class FifoQueuesTest {
    private static final Translator IDENTITY = (address, access) -> address;
    private static final int PORTS = FifoLayout.PORTS_PER_PAGE;
    private static final long CONTROL = 0x1000;
    private static final long ARRAY = 0x2000;
    private static final long OTHER_CONTROL = 0x3000;
    private static final long OTHER_ARRAY = 0x4000;

    private MachineMemory memory;
    private FifoQueues queues;
    private FifoDispatcher kernel;
    private final List<Integer> ran = new ArrayList<>();

    @BeforeEach
    void setUp() {
        memory = new MachineMemory(1L << 20);
        queues = new FifoQueues(memory, CONTROL, ARRAY, PORTS);
        kernel = dispatcher(CONTROL, ARRAY, 64);
    }

    @AfterEach
    void close() {
        memory.close();
    }

    private FifoDispatcher dispatcher(long control, long array, int maxEvents) {
        FifoDispatcher d = new FifoDispatcher(null, null, memory, IDENTITY, control, array, PORTS, maxEvents);
        for (int p = 1; p < PORTS; p++) {
            d.bind(p, (cpu, port) -> ran.add(port));
        }
        return d;
    }

    private int ready() {
        return memory.getIntVolatile(CONTROL + FifoLayout.READY);
    }

    /** What the hypervisor does on the vCPU's CPU for an upcall: the drain, then the kernel's upcall. */
    private int upcall() {
        queues.drain();
        return kernel.consume(null);
    }

    /** A send on the vCPU's own CPU: a notification there drains at once, as {@code Hypervisor.notify} does. */
    private void sendOnHome(int port) {
        if (queues.setPending(port) == FifoQueues.NOTIFY) {
            queues.drain();
        }
    }

    @Test
    void aPendingPortCoalescesUntilTheKernelTakesIt() {
        assertEquals(FifoQueues.NOTIFY, queues.setPending(5), "the first event starts the queue and notifies");
        assertEquals(0, queues.setPending(5));
        assertEquals(0, queues.setPending(5));
        assertEquals(2, queues.coalesced());
        assertEquals(0, queues.linked(), "in the inbox until the drain");
        assertEquals(0, kernel.consume(null), "nothing in READY before the drain");
        assertEquals(FifoQueues.NOTIFY, queues.drain(), "the link starts READY: the upcall is needed");
        assertEquals(1, queues.linked());
        assertEquals(0, queues.drain(), "the inbox is empty");
        assertEquals(1, kernel.consume(null));
        assertEquals(List.of(5), ran);
        assertEquals(0, queues.word(5), "taken: not pending, not linked, no link");
        assertEquals(0, ready(), "the kernel left READY empty");
        assertEquals(FifoQueues.NOTIFY, queues.setPending(5), "after the upcall a new event notifies again");
        assertEquals(1, upcall());
        assertEquals(List.of(5, 5), ran);
        assertEquals(2, queues.notifies());
    }

    @Test
    void anEventSentWhileItsHandlerRunsIsRunAgain() {
        kernel.bind(5, (cpu, port) -> {
            ran.add(port);
            if (ran.size() == 1) {
                // The kernel cleared PENDING before the handler: this is a new event, linked again.
                sendOnHome(5);
            }
        });
        queues.setPending(5);
        assertEquals(2, upcall());
        assertEquals(List.of(5, 5), ran);
    }

    @Test
    void aMaskedPortWaitsAndTheUnmaskLinksIt() {
        assertEquals(0, kernel.mask(5));
        assertEquals(0, queues.setPending(5));
        assertEquals(0, queues.setPending(5));
        assertEquals(1, queues.masked());
        assertEquals(FifoLayout.PENDING | FifoLayout.MASKED, queues.word(5), "pending behind the mask, not queued");
        assertEquals(0, queues.drain(), "nothing in the inbox");
        assertEquals(0, kernel.consume(null));
        assertTrue(ran.isEmpty());
        assertFalse(kernel.unmaskLocally(5), "an event is pending: the hypervisor must link it");
        assertEquals(FifoQueues.NOTIFY, queues.unmask(5));
        assertEquals(1, upcall());
        assertEquals(List.of(5), ran, "delivered once after the unmask");
        assertEquals(0, queues.word(5));
    }

    @Test
    void anUnmaskWithNothingPendingNeedsNoHypervisor() {
        kernel.mask(6);
        assertTrue(kernel.unmaskLocally(6));
        assertEquals(0, queues.word(6));
        assertEquals(FifoQueues.NOTIFY, queues.setPending(6), "unmasked: the next event is queued");
        assertEquals(1, upcall());
        assertEquals(0, queues.unmask(6), "unmasking an unmasked port does nothing");
    }

    @Test
    void aPortMaskedWhileQueuedIsSkippedAndRequeuedByTheUnmask() {
        queues.setPending(7);
        kernel.mask(7);
        assertEquals(0, upcall());
        assertEquals(1, kernel.maskedSkipped());
        assertEquals(FifoLayout.PENDING | FifoLayout.MASKED, queues.word(7), "off the queue, still pending");
        assertEquals(FifoQueues.NOTIFY, queues.unmask(7));
        assertEquals(1, upcall());
        assertEquals(List.of(7), ran);
    }

    @Test
    void anUnmaskWhileStillQueuedDoesNotLinkTwice() {
        queues.setPending(8);
        kernel.mask(8);
        assertEquals(0, queues.unmask(8), "still in the inbox: only the mask goes");
        queues.drain();
        kernel.mask(8);
        assertEquals(0, queues.unmask(8), "linked: only the mask goes");
        assertEquals(1, queues.linked());
        assertEquals(1, kernel.consume(null));
        assertEquals(List.of(8), ran);
    }

    @Test
    void higherPriorityQueuesRunFirstAndEachQueueInArrivalOrder() {
        assertEquals(0, queues.setPriority(11, 0));
        assertEquals(0, queues.setPriority(12, 3));
        assertEquals(0, queues.setPriority(13, 0));
        assertEquals(-Errno.EINVAL, queues.setPriority(13, FifoLayout.PRIORITIES));
        assertEquals(-Errno.EINVAL, queues.setPriority(0, 1));
        for (int port : new int[] {10, 9, 11, 12, 13, 4}) {
            sendOnHome(port); // one drain each: they arrive one after the other
        }
        assertEquals(6, kernel.consume(null));
        assertEquals(List.of(11, 13, 12, 10, 9, 4), ran, "priority 0, then 3, then 7; first come first run");
    }

    @Test
    void portsThatArriveBeforeTheSameDrainGoInPortOrder() {
        for (int port : new int[] {10, 9, 4}) {
            queues.setPending(port);
        }
        assertEquals(3, upcall());
        assertEquals(List.of(4, 9, 10), ran, "sent concurrently as far as the queue can tell");
    }

    @Test
    void aHigherPriorityEventSentByAHandlerOvertakesTheRestOfTheQueue() {
        queues.setPriority(30, 0);
        kernel.bind(20, (cpu, port) -> {
            ran.add(port);
            sendOnHome(30);
        });
        queues.setPending(20);
        queues.setPending(21);
        assertEquals(3, upcall());
        assertEquals(List.of(20, 30, 21), ran);
    }

    @Test
    void theWorkPerUpcallIsBoundedAndTheRestWaitsInReady() {
        FifoDispatcher small = dispatcher(CONTROL, ARRAY, 4);
        for (int port = 1; port <= 10; port++) {
            queues.setPending(port);
        }
        queues.drain();
        assertEquals(4, small.consume(null));
        assertTrue(ready() != 0, "the rest is announced for the next upcall");
        assertEquals(4, small.consume(null));
        assertEquals(2, small.consume(null));
        assertEquals(0, ready());
        assertEquals(2, small.deferred());
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), ran);
    }

    @Test
    void aHandlerThatResendsForeverIsCutByTheBound() {
        FifoDispatcher small = dispatcher(CONTROL, ARRAY, 8);
        small.bind(5, (cpu, port) -> {
            ran.add(port);
            sendOnHome(5);
        });
        sendOnHome(5);
        assertEquals(8, small.consume(null));
        assertEquals(1, small.deferred());
    }

    /** The kernel's own queue, corrupted (by itself or a bug): it stops with an errno, after bounded work. */
    @Test
    void aLinkLoopEndsWithEloopAfterEachPortRanOnce() {
        queues.setPending(5);
        queues.setPending(6);
        queues.drain();
        // 5 -> 6 now; make 6 point back at 5.
        long six = FifoLayout.word(ARRAY, 6);
        memory.putIntVolatile(six, memory.getIntVolatile(six) | 5);
        assertEquals(-Errno.ELOOP, kernel.consume(null));
        assertEquals(List.of(5, 6), ran);
        assertEquals(1, kernel.corrupt());
        assertEquals(0, ready());
    }

    @Test
    void aSelfLinkEndsWithEloop() {
        sendOnHome(5);
        long five = FifoLayout.word(ARRAY, 5);
        memory.putIntVolatile(five, memory.getIntVolatile(five) | 5);
        assertEquals(-Errno.ELOOP, kernel.consume(null));
        assertEquals(List.of(5), ran);
    }

    @Test
    void aLinkOrHeadOutOfRangeEndsWithEinval() {
        sendOnHome(5);
        long five = FifoLayout.word(ARRAY, 5);
        memory.putIntVolatile(five, memory.getIntVolatile(five) | FifoLayout.LINK_MASK);
        assertEquals(-Errno.EINVAL, kernel.consume(null));
        assertEquals(List.of(5), ran);

        memory.putIntVolatile(FifoLayout.head(CONTROL, 2), 70_000);
        memory.putIntVolatile(CONTROL + FifoLayout.READY, 1 << 2);
        assertEquals(-Errno.EINVAL, kernel.consume(null));
        memory.putIntVolatile(CONTROL + FifoLayout.READY, -1);
        assertEquals(-Errno.EINVAL, kernel.consume(null), "every READY bit, HEADs empty or out of range");
        assertEquals(0, ready());
    }

    @Test
    void aRingThroughEveryPortTakesBoundedWorkPerUpcall() {
        for (int port = 1; port < PORTS; port++) {
            int next = port == PORTS - 1 ? 1 : port + 1;
            memory.putIntVolatile(FifoLayout.word(ARRAY, port), FifoLayout.PENDING | FifoLayout.LINKED | next);
        }
        memory.putIntVolatile(FifoLayout.head(CONTROL, FifoLayout.DEFAULT_PRIORITY), 1);
        memory.putIntVolatile(CONTROL + FifoLayout.READY, 1 << FifoLayout.DEFAULT_PRIORITY);
        int upcalls = 0;
        int result;
        do {
            result = kernel.consume(null);
            upcalls++;
            assertTrue(upcalls <= PORTS / 64 + 2, "bounded: every port once, 64 a time");
        } while (result > 0 && ready() != 0);
        assertEquals(-Errno.ELOOP, result, "the ring closes on a port already taken");
        assertEquals(PORTS - 1, ran.size(), "each port ran once");
    }

    /** The hypervisor on a guest's garbage: never throws, only errnos, and writes nothing of another queue. */
    @Test
    void garbageWordsNeverTouchAnotherDomainsQueues() {
        FifoQueues other = new FifoQueues(memory, OTHER_CONTROL, OTHER_ARRAY, PORTS);
        other.setPending(3);
        other.setPriority(4, 0);
        other.setPending(4);
        other.drain();
        long otherControl = memory.frameChecksum(OTHER_CONTROL >>> 12);
        long otherArray = memory.frameChecksum(OTHER_ARRAY >>> 12);
        long below = memory.frameChecksum(0);
        long above = memory.frameChecksum(5);
        Random random = new Random(7);
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < MachineMemory.PAGE_SIZE; i += 4) {
                memory.putInt(ARRAY + i, random.nextInt());
                memory.putInt(CONTROL + i, random.nextInt());
            }
            for (int i = 0; i < 2000; i++) {
                int port = random.nextInt(PORTS + 10) - 5;
                int r = switch (random.nextInt(3)) {
                    case 0 -> queues.setPending(port);
                    case 1 -> queues.unmask(port);
                    default -> queues.setPriority(port, random.nextInt(20) - 2);
                };
                assertTrue(r == 0 || r == FifoQueues.NOTIFY || r == -Errno.EINVAL || r == -Errno.EAGAIN, "result " + r);
            }
            int k = upcall();
            assertTrue(k >= 0 || k == -Errno.EINVAL || k == -Errno.ELOOP, "kernel " + k);
        }
        assertEquals(otherControl, memory.frameChecksum(OTHER_CONTROL >>> 12));
        assertEquals(otherArray, memory.frameChecksum(OTHER_ARRAY >>> 12));
        assertEquals(below, memory.frameChecksum(0));
        assertEquals(above, memory.frameChecksum(5));
        ran.clear();
        assertEquals(2, dispatcher(OTHER_CONTROL, OTHER_ARRAY, 64).consume(null));
        assertEquals(List.of(4, 3), ran, "the other queues are intact");
    }

    /** A guest rewriting its words without pause: every operation returns, giving up with -EAGAIN at worst. */
    @Test
    void aGuestThatRewritesItsWordsMakesOperationsGiveUpNotSpin() throws InterruptedException {
        sendOnHome(5); // 5 is the tail of the default queue from now on
        AtomicBoolean stop = new AtomicBoolean();
        Thread guest = new Thread(() -> {
            long five = FifoLayout.word(ARRAY, 5);
            long nine = FifoLayout.word(ARRAY, 9);
            int i = 0;
            while (!stop.get()) {
                memory.putIntVolatile(five, FifoLayout.LINKED | (i++ & 0xFFFF));
                memory.putIntVolatile(nine, (i & 1) == 0 ? FifoLayout.MASKED : FifoLayout.PENDING | FifoLayout.BUSY);
            }
        });
        guest.start();
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                for (int i = 0; i < 200_000; i++) {
                    int r = (i & 1) == 0 ? queues.setPending(9) : queues.unmask(9);
                    assertTrue(r == 0 || r == FifoQueues.NOTIFY || r == -Errno.EAGAIN, "result " + r);
                    memory.putIntVolatile(FifoLayout.word(ARRAY, 9), 0);
                    queues.setPending(5);
                    queues.drain(); // links 9 or 5 behind a tail the guest keeps rewriting
                }
            });
        } finally {
            stop.set(true);
            guest.join();
        }
    }

    /** Runs {@code body} on a thread of its own (a sender on another CPU) and waits for it to end. */
    private static void onAnotherThread(Runnable body) throws InterruptedException {
        Thread t = new Thread(body, "sender");
        t.start();
        t.join(TimeUnit.SECONDS.toMillis(20));
        assertFalse(t.isAlive(), "the sender did not finish");
    }

    @Test
    void aSendFromAnotherThreadIsLinkedOnceByTheOwnersDrain() throws InterruptedException {
        int[] results = new int[3];
        onAnotherThread(() -> {
            for (int i = 0; i < results.length; i++) {
                results[i] = queues.setPending(5);
            }
        });
        assertArrayEquals(new int[] {FifoQueues.NOTIFY, 0, 0}, results, "the first notifies; the others coalesce");
        assertEquals(FifoLayout.PENDING | FifoLayout.LINKED | FifoLayout.BUSY, queues.word(5), "claimed, not on a queue");
        assertEquals(0, ready(), "the sender wrote no queue");
        assertEquals(FifoQueues.NOTIFY, queues.drain());
        assertEquals(FifoLayout.PENDING | FifoLayout.LINKED, queues.word(5));
        assertEquals(0, queues.drain());
        assertEquals(1, kernel.consume(null));
        assertEquals(List.of(5), ran);
        assertEquals(1, queues.linked());
        assertEquals(1, queues.notifies());
        assertEquals(2, queues.coalesced());
    }

    @Test
    void onlyTheFirstPortIntoAnEmptyInboxNotifies() {
        assertEquals(FifoQueues.NOTIFY, queues.setPending(PORTS - 1));
        for (int port = 1; port < PORTS - 1; port++) {
            assertEquals(0, queues.setPending(port), "port " + port);
        }
        assertEquals(1, queues.notifies());
        assertEquals(FifoQueues.NOTIFY, queues.drain());
        assertEquals(PORTS - 1, queues.linked());
        for (int i = 0; i < PORTS && ready() != 0; i++) {
            kernel.consume(null); // 64 a time
        }
        assertEquals(PORTS - 1, ran.size(), "each port once");
        assertEquals(1, ran.get(0), "in port order, not in the order sent");
        assertEquals(PORTS - 1, ran.get(PORTS - 2));
        assertEquals(FifoQueues.NOTIFY, queues.setPending(3), "drained: the next port notifies again");
    }

    @Test
    void aMaskedPortStaysOutOfTheInboxUntilTheUnmask() throws InterruptedException {
        kernel.mask(5);
        int[] result = {-1};
        onAnotherThread(() -> result[0] = queues.setPending(5));
        assertEquals(0, result[0], "held by the mask: nothing to announce");
        assertEquals(1, queues.masked());
        assertEquals(0, queues.drain(), "nothing to link");
        assertEquals(0, queues.linked());
        assertEquals(FifoQueues.NOTIFY, queues.unmask(5), "the unmask claims the waiting event");
        assertEquals(0, queues.unmask(5), "claimed once");
        assertEquals(1, upcall());
        assertEquals(List.of(5), ran);
        assertEquals(1, queues.linked());
    }

    /**
     * The ABA the lock once prevented: tail 9 is taken by the kernel and sent again, so it is LINKED
     * (and BUSY) again when 4 is linked. 4 must not go behind it; 9 then goes behind 4, no cycle.
     */
    @Test
    void aTailTakenAndClaimedAgainIsNotLinkedBehind() {
        sendOnHome(9);
        kernel.bind(9, (cpu, port) -> {
            ran.add(port);
            if (ran.size() == 1) {
                queues.setPending(9); // taken, sent again: in the inbox, BUSY
                queues.setPending(4);
            }
        });
        assertEquals(1, kernel.consume(null));
        assertEquals(FifoQueues.NOTIFY, queues.drain(), "9 counts as taken: 4 starts the queue");
        assertEquals(2, kernel.consume(null), "4 then 9, each once");
        assertEquals(List.of(9, 4, 9), ran);
        assertEquals(0, kernel.corrupt());
        assertEquals(0, queues.word(4) | queues.word(9) | ready());
    }

    /**
     * Two sender threads and the owner, which drains and consumes meanwhile: every port sent once
     * per round runs exactly once, the queues never loop and nothing is left behind.
     */
    @Test
    void twoSendersAndTheDrainingOwnerDeliverEveryPortOnce() throws Exception {
        int rounds = 200;
        int[] runs = new int[PORTS];
        for (int p = 1; p < PORTS; p++) {
            kernel.bind(p, (cpu, port) -> runs[port]++);
        }
        CyclicBarrier start = new CyclicBarrier(3);
        AtomicBoolean failed = new AtomicBoolean();
        Thread[] senders = new Thread[2];
        for (int s = 0; s < senders.length; s++) {
            int first = 1 + s;
            senders[s] = new Thread(() -> {
                try {
                    for (int round = 0; round < rounds; round++) {
                        start.await(20, TimeUnit.SECONDS);
                        for (int port = first; port < PORTS; port += 2) {
                            queues.setPending(port);
                        }
                    }
                } catch (Exception e) {
                    failed.set(true);
                }
            }, "sender-" + s);
            senders[s].start();
        }
        try {
            for (int round = 1; round <= rounds; round++) {
                start.await(20, TimeUnit.SECONDS);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                int expected = round;
                while (!allRan(runs, expected)) {
                    assertTrue(System.nanoTime() < deadline && !failed.get(), "round " + round + ": a port was not delivered");
                    int r = upcall();
                    assertTrue(r >= 0, "the queue is corrupt: " + r);
                }
                assertEquals(0, ready(), "round " + round + ": READY left non-empty");
                for (int p = 1; p < PORTS; p++) {
                    assertEquals(expected, runs[p], "port " + p + " in round " + round);
                    assertEquals(0, queues.word(p), "port " + p + " in round " + round);
                }
            }
        } finally {
            for (Thread t : senders) {
                t.join(TimeUnit.SECONDS.toMillis(20));
            }
        }
        assertFalse(failed.get());
        assertEquals(0, kernel.corrupt());
        assertEquals((long) rounds * (PORTS - 1), queues.linked());
    }

    private static boolean allRan(int[] runs, int times) {
        for (int p = 1; p < runs.length; p++) {
            if (runs[p] < times) {
                return false;
            }
        }
        return true;
    }
}
