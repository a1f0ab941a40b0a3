package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Runs RingBench's own producer and consumer code on two threads, as the JMH groups do, and proves
 * that every message arrives once, in order and whole: the consumer checks each message's sequence
 * stamps against the next number it expects (and throws otherwise), and at the end it has received
 * exactly what the producer sent. For the shared ring, every request was also answered.
 */
class RingBenchTest {
    private static final long MESSAGES = 1_000_000;
    private static final long TIMEOUT_SECONDS = 120;

    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (String transport : new String[] {"sharedRing/check", "sharedRing/release", "spscArrayQueue",
                "oneToOneRingBuffer"}) {
            for (int message : new int[] {64, 112}) {
                for (int batch : new int[] {1, 16}) {
                    cases.add(Arguments.of(transport, message, batch));
                }
            }
        }
        return cases;
    }

    /** One implementation: its shared state and its two ends, each made on the thread that uses it. */
    private static final class Transport {
        Runnable close;
        Supplier<RingBench.Producer> producer;
        Supplier<RingBench.Consumer> consumer;
    }

    private static <S extends RingBench.Shape> S shape(S state, int message, int batch) {
        state.message = message;
        state.batch = batch;
        return state;
    }

    private static RingBench.RingPage ring(String publish, int message, int batch) {
        RingBench.RingPage page = shape(new RingBench.RingPage(), message, batch);
        page.publish = publish;
        return page;
    }

    private static Transport open(String name, int message, int batch) {
        Transport t = new Transport();
        switch (name) {
            case "sharedRing/check":
            case "sharedRing/release": {
                RingBench.RingPage page = ring(name.substring(name.indexOf('/') + 1), message, batch);
                page.open();
                t.close = page::close;
                t.producer = () -> {
                    RingBench.RingProducer p = new RingBench.RingProducer();
                    p.attach(page);
                    return p;
                };
                t.consumer = () -> {
                    RingBench.RingConsumer c = new RingBench.RingConsumer();
                    c.attach(page);
                    return c;
                };
                return t;
            }
            case "spscArrayQueue": {
                RingBench.Queue queue = shape(new RingBench.Queue(), message, batch);
                queue.open();
                t.close = () -> { };
                t.producer = () -> {
                    RingBench.QueueProducer p = new RingBench.QueueProducer();
                    p.attach(queue);
                    return p;
                };
                t.consumer = () -> {
                    RingBench.QueueConsumer c = new RingBench.QueueConsumer();
                    c.attach(queue);
                    return c;
                };
                return t;
            }
            case "oneToOneRingBuffer": {
                RingBench.Buffer buffer = shape(new RingBench.Buffer(), message, batch);
                buffer.open();
                t.close = buffer::close;
                t.producer = () -> {
                    RingBench.BufferProducer p = new RingBench.BufferProducer();
                    p.attach(buffer);
                    return p;
                };
                t.consumer = () -> {
                    RingBench.BufferConsumer c = new RingBench.BufferConsumer();
                    c.attach(buffer);
                    return c;
                };
                return t;
            }
            default:
                throw new IllegalArgumentException(name);
        }
    }

    @ParameterizedTest(name = "{0}, {1} bytes, batch {2}")
    @MethodSource("cases")
    void everySequenceNumberArrivesOnceAndInOrder(String name, int message, int batch) throws Exception {
        Transport transport = open(name, message, batch);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong target = new AtomicLong(Long.MAX_VALUE);
        AtomicReference<RingBench.Producer> producerEnd = new AtomicReference<>();
        AtomicReference<RingBench.Consumer> consumerEnd = new AtomicReference<>();
        RingBench.Counters produced = new RingBench.Counters();
        RingBench.Counters consumed = new RingBench.Counters();
        CountDownLatch done = new CountDownLatch(2);

        // A call that moved nothing yields: the two threads may share one core with other work.
        Thread producer = new Thread(() -> {
            try {
                RingBench.Producer p = transport.producer.get();
                producerEnd.set(p);
                while (p.sent() < MESSAGES && !stop.get()) {
                    long before = p.sent();
                    p.produce(produced);
                    if (p.sent() == before) {
                        Thread.yield();
                    }
                }
                target.set(p.sent());
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
                stop.set(true);
            } finally {
                done.countDown();
            }
        }, "ring-producer");
        Thread consumer = new Thread(() -> {
            try {
                RingBench.Consumer c = transport.consumer.get();
                consumerEnd.set(c);
                while (c.received() < target.get() && !stop.get()) {
                    long before = c.received();
                    c.consume(consumed);
                    if (c.received() == before) {
                        Thread.yield();
                    }
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
                stop.set(true);
            } finally {
                done.countDown();
            }
        }, "ring-consumer");
        producer.setDaemon(true);
        consumer.setDaemon(true);
        try {
            producer.start();
            consumer.start();
            boolean finished = done.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            stop.set(true);
            if (!finished) {
                done.await(10, TimeUnit.SECONDS);
                RingBench.Producer p = producerEnd.get();
                RingBench.Consumer c = consumerEnd.get();
                fail(name + " did not finish in " + TIMEOUT_SECONDS + " s: sent " + (p == null ? "?" : p.sent())
                    + ", received " + (c == null ? "?" : c.received()));
            }
            if (failure.get() != null) {
                throw new AssertionError(name + " failed on a thread", failure.get());
            }
            long sent = producerEnd.get().sent();
            long received = consumerEnd.get().received();
            assertTrue(sent >= MESSAGES, "sent " + sent);
            assertEquals(sent, received, "the consumer received every message sent, each checked in order");
            assertEquals(received, consumed.transfers, "transfers counts each message once");
            assertEquals(0, produced.transfers + produced.emptyPolls, "the producer counts only failed offers");
            assertEquals(0, consumed.failedOffers, "the consumer counts no offers");
            if (producerEnd.get() instanceof RingBench.RingProducer) {
                RingBench.RingProducer front = (RingBench.RingProducer) producerEnd.get();
                front.collectResponses();
                assertEquals(0, front.outstanding(), "every request was answered, in order");
            }
        } finally {
            stop.set(true);
            producer.join(TimeUnit.SECONDS.toMillis(10));
            consumer.join(TimeUnit.SECONDS.toMillis(10));
            if (!producer.isAlive() && !consumer.isAlive()) {
                transport.close.run();
            }
        }
    }

    @Test
    void theCheckRejectsAGapARepeatAndATornMessage() {
        byte[] message = RingBench.template(64);
        RingBench.stamp(message, 64, 7);
        RingBench.check(message, 64, 7);
        assertThrows(IllegalStateException.class, () -> RingBench.check(message, 64, 6), "a repeat");
        assertThrows(IllegalStateException.class, () -> RingBench.check(message, 64, 8), "a gap");
        message[60] ^= 1;
        assertThrows(IllegalStateException.class, () -> RingBench.check(message, 64, 7), "a torn tail");
    }

    @Test
    void aBatchLargerThanTheRingIsRefusedByName() {
        RingBench.RingPage page = ring("check", 112, 33);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, page::open);
        assertTrue(e.getMessage().startsWith("batch: 33"), e.getMessage());
    }

    @Test
    void anUnknownPublishModeIsRefusedByName() {
        RingBench.RingPage page = ring("relaxed", 64, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, page::open);
        assertTrue(e.getMessage().startsWith("publish: 'relaxed'"), e.getMessage());
    }

    /** Without responses the front end fills the ring once and then can place nothing. */
    @ParameterizedTest(name = "publish={0}")
    @ValueSource(strings = {"check", "release"})
    void theFrontEndRegainsSlotsOnlyFromResponses(String publish) {
        RingBench.RingPage page = ring(publish, 112, 16);
        page.open();
        try {
            RingBench.RingProducer front = new RingBench.RingProducer();
            front.attach(page);
            RingBench.Counters counters = new RingBench.Counters();
            for (int i = 0; i < 3; i++) {
                front.produce(counters);
            }
            assertEquals(32, front.sent(), "two batches of 16 fill the 32 slots");
            assertEquals(1, counters.failedOffers, "the third call found no room");
            RingBench.RingConsumer back = new RingBench.RingConsumer();
            back.attach(page);
            back.consume(counters);
            assertEquals(32, back.received(), "the back end takes all 32 at once");
            front.produce(counters);
            assertEquals(48, front.sent(), "the answers freed the slots");
            assertEquals(16, front.outstanding());
        } finally {
            page.close();
        }
    }
}
