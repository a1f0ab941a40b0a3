package org.hvbench.core.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class SharedRingTest {
    private static final Translator IDENTITY = (address, access) -> address;
    private static final int SLOT = 112;
    private static final long PAGE = 0x4000;
    private final MachineMemory memory = new MachineMemory(1L << 20);

    @AfterEach
    void free() {
        memory.close();
    }

    @Test
    void thirtyTwoSlotsOfTheBlockProtocolFitAPage() {
        assertEquals(32, SharedRing.size(SLOT));
        assertEquals(128, SharedRing.size(16), "252 slots fit, rounded down to a power of two");
    }

    /** Starting the indices just below 2^32 makes them wrap during the test. */
    @ParameterizedTest
    @ValueSource(ints = {0, -5, Integer.MAX_VALUE - 3})
    void fillDrainAndWrap(int start) {
        FrontRing front = new FrontRing(memory, IDENTITY, PAGE, SLOT, true, start);
        BackRing back = new BackRing(memory, IDENTITY, PAGE, SLOT);
        long value = 1;
        for (int round = 0; round < 5; round++) {
            assertEquals(32, front.freeRequests());
            for (int i = 0; i < 32; i++) {
                memory.putLong(front.nextRequest(), value + i);
                front.produced();
            }
            assertEquals(0, front.freeRequests(), "a full ring takes no more requests");
            front.pushRequestsAndCheckNotify();
            assertEquals(32, back.unconsumedRequests());
            for (int i = 0; i < 32; i++) {
                assertEquals(value + i, memory.getLong(back.request(i)), "requests arrive in order");
                memory.putLong(back.nextResponse(), -(value + i));
                back.produced();
            }
            back.consumedRequests(32);
            back.pushResponsesAndCheckNotify();
            assertEquals(32, front.unconsumedResponses());
            for (int i = 0; i < 32; i++) {
                assertEquals(-(value + i), memory.getLong(front.response(i)));
            }
            front.consumedResponses(32);
            value += 32;
        }
        assertEquals(start + 160, front.requestProducer());
    }

    /** The plain pushes publish the same indices as the checking ones and leave the event indices alone. */
    @Test
    void pushWithoutCheckPublishesAndLeavesEventIndices() {
        FrontRing front = new FrontRing(memory, IDENTITY, PAGE, SLOT, true, 7);
        BackRing back = new BackRing(memory, IDENTITY, PAGE, SLOT);
        int reqEvent = memory.getInt(PAGE + SharedRing.REQ_EVENT);
        int rspEvent = memory.getInt(PAGE + SharedRing.RSP_EVENT);
        for (int i = 0; i < 3; i++) {
            memory.putLong(front.nextRequest(), 100 + i);
            front.produced();
        }
        assertEquals(3, front.unpublished());
        assertEquals(0, back.unconsumedRequests(), "nothing is visible before the push");
        front.pushRequests();
        assertEquals(0, front.unpublished());
        assertEquals(10, memory.getInt(PAGE + SharedRing.REQ_PROD));
        assertEquals(3, back.unconsumedRequests());
        for (int i = 0; i < 3; i++) {
            assertEquals(100 + i, memory.getLong(back.request(i)));
            memory.putLong(back.nextResponse(), -(100 + i));
            back.produced();
        }
        back.consumedRequests(3);
        back.pushResponses();
        assertEquals(3, front.unconsumedResponses());
        assertEquals(-102, memory.getLong(front.response(2)));
        assertEquals(reqEvent, memory.getInt(PAGE + SharedRing.REQ_EVENT), "req_event untouched");
        assertEquals(rspEvent, memory.getInt(PAGE + SharedRing.RSP_EVENT), "rsp_event untouched");
        // A checking push after plain ones compares against what was published last, not what the page says.
        memory.putInt(PAGE + SharedRing.REQ_EVENT, 11);
        front.produced();
        assertTrue(front.pushRequestsAndCheckNotify(), "req_event 11 lies in (10, 11]");
    }

    @Test
    void notifyExactlyWhenThePeersEventIndexIsCrossed() {
        FrontRing front = new FrontRing(memory, IDENTITY, PAGE, SLOT, true, 0);
        BackRing back = new BackRing(memory, IDENTITY, PAGE, SLOT);
        // Fresh ring: req_event = 1, so the first push notifies.
        front.produced();
        assertTrue(front.pushRequestsAndCheckNotify(), "first request wakes the back end");
        // The back end has not asked again (req_event still 1): further pushes stay silent.
        front.produced();
        front.produced();
        assertFalse(front.pushRequestsAndCheckNotify(), "back end busy, no event");
        // The back end consumes everything, then asks to be woken by the next request.
        back.consumedRequests(back.unconsumedRequests());
        assertFalse(back.finalCheckForRequests(), "nothing more: it may sleep");
        front.produced();
        assertTrue(front.pushRequestsAndCheckNotify(), "request 4 crosses req_event = 4");
        // A batch of several crossing the event index gives one event.
        back.consumedRequests(back.unconsumedRequests());
        back.finalCheckForRequests();
        for (int i = 0; i < 8; i++) {
            front.produced();
        }
        assertTrue(front.pushRequestsAndCheckNotify(), "one event for the batch of 8");
        assertFalse(front.pushRequestsAndCheckNotify(), "publishing nothing new notifies nobody");
    }

    @Test
    void finalCheckSeesARequestPublishedBeforeIt() {
        FrontRing front = new FrontRing(memory, IDENTITY, PAGE, SLOT, true, 0);
        BackRing back = new BackRing(memory, IDENTITY, PAGE, SLOT);
        front.produced();
        front.pushRequestsAndCheckNotify();
        assertTrue(back.finalCheckForRequests(), "there is work: do not sleep");
    }

    @Test
    void aProducerMoreThanTheRingAheadIsReportedBrokenNotAsWork() {
        new FrontRing(memory, IDENTITY, PAGE, SLOT, true, 0);
        BackRing back = new BackRing(memory, IDENTITY, PAGE, SLOT);
        memory.putIntRelease(PAGE + SharedRing.REQ_PROD, 33);
        assertEquals(-1, back.unconsumedRequests());
        memory.putIntRelease(PAGE + SharedRing.REQ_PROD, -1);
        assertEquals(-1, back.unconsumedRequests(), "a producer behind the consumer is broken too");
        memory.putIntRelease(PAGE + SharedRing.REQ_PROD, 32);
        assertEquals(32, back.unconsumedRequests(), "exactly a ring's worth is fine");
    }

    @Test
    void responsesBeyondTheRequestsAreReportedBroken() {
        FrontRing front = new FrontRing(memory, IDENTITY, PAGE, SLOT, true, 0);
        front.produced();
        front.pushRequestsAndCheckNotify();
        memory.putIntRelease(PAGE + SharedRing.RSP_PROD, 2);
        assertEquals(-1, front.unconsumedResponses(), "two responses to one request");
        memory.putIntRelease(PAGE + SharedRing.RSP_PROD, 1);
        assertEquals(1, front.unconsumedResponses());
    }
}
