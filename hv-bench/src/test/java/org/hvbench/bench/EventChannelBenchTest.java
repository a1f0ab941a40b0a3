package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.openjdk.jmh.infra.Control;

/**
 * EventChannelBench's set-ups, operations and end-of-iteration checks, driven directly on one thread:
 * each event is delivered once (a masked burst once in all), with the notifications each mechanism
 * sends; the check fails when events are not delivered.
 */
class EventChannelBenchTest {
    private static EventChannelBench open(String method) {
        EventChannelBench bench = new EventChannelBench();
        bench.open(method);
        bench.startIteration();
        return bench;
    }

    @Test
    void aSendRunsTheReceiversHandlerOnceThroughOneVirtualInterrupt() {
        EventChannelBench bench = open("sendDeliver");
        try {
            OpCounters ops = new OpCounters();
            EventChannelBench.Events events = new EventChannelBench.Events();
            for (int i = 0; i < 3; i++) {
                bench.sendDeliver(events, ops);
            }
            bench.checkIteration();
            assertEquals(3, ops.ops);
            assertEquals(3, events.deliveries);
            assertEquals(3, ops.notifications, "a virtual interrupt per send: the upcall was never pending");
            // HYPERCALL in, VIRQ to the receiver, VMENTRY back to the sender.
            assertEquals(3 * 3, ops.crossings);
        } finally {
            bench.shutdown();
        }
    }

    @Test
    void aMaskedBurstCoalescesIntoOneDelivery() {
        EventChannelBench bench = open("burst");
        try {
            OpCounters ops = new OpCounters();
            EventChannelBench.Events events = new EventChannelBench.Events();
            EventChannelBench.Burst burst = new EventChannelBench.Burst();
            burst.burst = 8;
            bench.burst(burst, events, ops);
            bench.checkIteration();
            assertEquals(1, ops.ops);
            assertEquals(8, events.sends);
            assertEquals(1, events.deliveries, "eight sends, one delivery");
            assertEquals(1, ops.notifications);
        } finally {
            bench.shutdown();
        }
    }

    @Test
    void theCheckFailsWhenTheReceiverNeverGetsTheEvent() {
        EventChannelBench bench = open("sendDeliver");
        try {
            bench.receiverEvents.mask(bench.receivePort);
            bench.sendDeliver(new EventChannelBench.Events(), new OpCounters());
            IllegalStateException e = assertThrows(IllegalStateException.class, bench::checkIteration);
            assertTrue(e.getMessage().contains("handler 1 times; it ran 0 times"), e.getMessage());
            EventChannelBench.Burst unmask = new EventChannelBench.Burst();
            unmask.burst = 1;
            bench.burst(unmask, new EventChannelBench.Events(), new OpCounters()); // its unmask delivers, for the trial's check
        } finally {
            bench.shutdown();
        }
    }

    @ParameterizedTest(name = "mode={0}")
    @ValueSource(strings = {EventChannelBench.TWO_LEVEL, EventChannelBench.FIFO, EventChannelBench.POSTED})
    void eachDeliveredEventRunsTheHandlerOnce(String mode) {
        EventChannelBench.SameThread s = new EventChannelBench.SameThread();
        s.mode = mode;
        s.boot();
        try {
            EventChannelBench bench = open("deliver");
            s.startIteration();
            OpCounters ops = new OpCounters();
            EventChannelBench.Events events = new EventChannelBench.Events();
            for (int i = 0; i < 5; i++) {
                bench.deliver(s, events, ops);
            }
            s.checkIteration();
            bench.checkIteration(); // no machine of its own: nothing to check
            assertEquals(5, ops.ops);
            assertEquals(5, events.deliveries);
            assertEquals(5, ops.notifications, "the receiver is notified of each event: none was pending");
        } finally {
            s.shutdown();
        }
    }

    @Test
    void theDeliverCheckFailsWhenNothingWasDelivered() {
        EventChannelBench.SameThread s = new EventChannelBench.SameThread();
        s.mode = EventChannelBench.TWO_LEVEL;
        s.boot();
        try {
            s.startIteration();
            IllegalStateException e = assertThrows(IllegalStateException.class, s::checkIteration);
            assertTrue(e.getMessage().contains("no event was delivered"), e.getMessage());
            s.deliverOne(); // the trial's own check needs one delivery
        } finally {
            s.shutdown();
        }
    }

    @ParameterizedTest(name = "mode={0}")
    @ValueSource(strings = {EventChannelBench.TWO_LEVEL, EventChannelBench.FIFO, EventChannelBench.POSTED})
    void aBatchCrossesAndTheConsumerCountsItWithoutCrossings(String mode) {
        EventChannelBench.CrossThread s = new EventChannelBench.CrossThread();
        s.mode = mode;
        s.boot();
        try {
            EventChannelBench bench = new EventChannelBench();
            Control control = new Control();
            OpCounters ops = new OpCounters();
            EventChannelBench.Delivered delivered = new EventChannelBench.Delivered();
            for (int round = 0; round < 2; round++) {
                s.startIteration();
                bench.crossThreadProducer(s, new EventChannelBench.Sent(), control);
                bench.crossThreadConsumer(s, delivered, ops, control);
                s.checkIteration();
            }
            assertEquals(2 * EventChannelBench.CrossThread.BATCH, ops.ops);
            assertEquals(2 * EventChannelBench.CrossThread.BATCH, delivered.deliveries);
            assertEquals(0, ops.crossings, "the words only: no crossing on the consumer's side");
            assertTrue(ops.notifications >= 2 && ops.notifications <= ops.ops, "at least one upcall per batch: " + ops.notifications);
        } finally {
            s.shutdown();
        }
    }

    @Test
    void theCrossThreadCheckFailsWhenNothingWasSent() {
        EventChannelBench.CrossThread s = new EventChannelBench.CrossThread();
        s.mode = EventChannelBench.TWO_LEVEL;
        s.boot();
        try {
            s.startIteration();
            Control control = new Control();
            control.stopMeasurement = true; // the consumer gives up when nothing comes
            new EventChannelBench().crossThreadConsumer(s, new EventChannelBench.Delivered(), new OpCounters(), control);
            IllegalStateException e = assertThrows(IllegalStateException.class, s::checkIteration);
            assertTrue(e.getMessage().contains("no event was delivered"), e.getMessage());
            control.stopMeasurement = false;
            new EventChannelBench().crossThreadProducer(s, new EventChannelBench.Sent(), control);
            new EventChannelBench().crossThreadConsumer(s, new EventChannelBench.Delivered(), new OpCounters(), control);
        } finally {
            s.shutdown();
        }
    }
}
