package org.hvbench.bench;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RecordDescriptor;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translator;
import org.hvbench.core.ring.BackRing;
import org.hvbench.core.ring.FrontRing;
import org.hvbench.core.ring.SharedRing;
import org.jctools.queues.MessagePassingQueue;
import org.jctools.queues.SpscArrayQueue;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The shared ring of the split drivers (DESIGN section 5) moving {@code message}-byte messages from
 * one thread to another, against JCTools' {@code SpscArrayQueue} and Agrona's
 * {@code OneToOneRingBuffer}. Each implementation is one JMH {@code @Group} of two threads, a
 * producer and a consumer; every call is non-blocking (a full or empty transport is counted and the
 * call returns), so a thread whose peer has already stopped at the end of an iteration still
 * finishes its call.
 *
 * <p><b>Read {@code transfers}, not the score.</b> A group's primary score is the sum of both
 * threads' calls per second, which mixes successful and failed calls. The counters ({@link
 * Counters}, all {@code OPERATIONS}: rates over the same time) are {@code transfers} (messages the
 * consumer received and checked), {@code failedOffers} (producer calls that found no room for even
 * one message) and {@code emptyPolls} (consumer calls that found nothing).
 *
 * <p><b>Same work per message.</b> The producer stamps the sequence number into the first 8 bytes of
 * a private template and its complement into the last 8, then copies the {@code message} bytes into
 * the transport (the ring slot, a pooled {@code byte[]}, the claimed record); the consumer copies the
 * {@code message} bytes out into a private array and checks both stamps against the number it
 * expects, throwing on a gap, a repeat or a torn message. Nothing allocates after set-up: the queue
 * carries preallocated arrays, recycled round-robin.
 *
 * <p><b>The shared ring</b> ({@link FrontRing}, {@link BackRing}; one 4 KiB page of machine memory,
 * reached by machine address, so this measures the protocol and not translation). In Xen's ring
 * requests and responses share the slots: the front end may reuse a slot only after it consumed the
 * response that took the slot's place, so a ring without responses stops after one ring's worth.
 * The back end therefore answers every request: it copies the request out of its slot (once; it
 * uses only the copy), writes an 8-byte response (the request's id, as in the block protocol) into
 * the same slot, and publishes the responses. The front end collects responses when it lacks room
 * for its next batch: it acquires rsp_prod once, checks each response's id, and frees the slots.
 * Orders: slot bytes plain, then req_prod store-release / load-acquire by the back end; the back end's
 * copy and response plain, then rsp_prod store-release / load-acquire by the front end, so the back
 * end has finished reading a slot before the front end writes it again. With {@code publish=check}
 * each push ends with the full fence and the peer's event-index load that decide whether to notify;
 * here nobody sleeps (the peer polls), so no event is sent, but the fence and the load are paid as on
 * a real ring whose peer may sleep. With {@code publish=release} a push is the release store alone
 * (Xen's {@code RING_PUSH_REQUESTS}/{@code RING_PUSH_RESPONSES}), which is all a polling peer needs and
 * all the two peers below ever do: the difference between the two is the price of being able to
 * sleep. The back end loads req_prod once per pass over what it saw (as blkback does), not per request.
 *
 * <p><b>The peers.</b> {@code SpscArrayQueue}: each slot is its own flag, the element is stored with
 * release order and loaded volatile (at least acquire); the consumer nulls the slot with release order. The
 * producer copies into pooled arrays: {@code slots + 2} of them, enough that none is rewritten while
 * queued or still being read by the consumer (the consumer holds at most the one it just removed,
 * and the producer fills a buffer at most one message before the queue has room for it).
 * {@code OneToOneRingBuffer}: the record's length header is stored with release order and loaded
 * volatile; the consumer publishes its head with release order once per {@code read}.
 *
 * <p><b>Capacity.</b> The ring holds {@link SharedRing#size} slots: 32 for both 64 and 112 bytes
 * (63 slots of 64 bytes fit, rounded down to a power of two). The queue gets the same 32 slots. The
 * ring buffer takes bytes, not slots, as a power of two: each record is the message plus an 8-byte
 * header, and 32 records need 2,304 or 3,840 bytes, so it gets the next power of two, 4 KiB of data
 * (one page, like the ring): 56 records of 64 bytes or 34 of 112. It never holds fewer than the ring.
 *
 * <p><b>Batching.</b> With {@code batch} 1 every message is published and acknowledged alone: the
 * ring's front end pushes (release, full fence, event check) per request and the back end takes one
 * request and pushes one response per call; the queue uses {@code offer}/{@code poll}; the ring buffer
 * claims and commits one record and reads with a limit of one. With {@code batch} n the producer
 * writes up to n messages (as many as there is room for) and publishes once, and the consumer takes
 * everything available and acknowledges once: the ring pushes n requests with one req_prod store and
 * the back end answers all it found with one rsp_prod store; the queue uses {@code fill}/{@code drain};
 * the ring buffer reads all contiguous records and releases its head once. The queue and the ring
 * buffer still publish each element (the slot or the record header is the flag): batching saves them
 * calls and, for the ring buffer, head updates, not stores.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class RingBench {
    /** The two stamps take 8 bytes each; the ring buffer's records are at most an eighth of 4 KiB. */
    static final int MIN_MESSAGE = 16;
    static final int MAX_MESSAGE = 512;

    /** Where the ring's page sits in machine memory, and the identity translation to it. */
    static final long RING_MA = MachineMemory.PAGE_SIZE;
    static final Translator MACHINE_ADDRESS = (address, access) -> address;

    /** Native order: every side reads the stamps back with the same handle. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());

    /** The one Agrona message type used. */
    private static final int MESSAGE_TYPE = 1;

    /** What a message is and how many to move per call: set on the group, read by both threads. */
    @State(Scope.Group)
    public abstract static class Shape {
        /** Message bytes, 16 to 512 (the Xen block request is 112). */
        @Param({"64", "112"})
        public int message;

        /** Messages per publication: 1 (none batched) up to the ring's slots. */
        @Param({"1", "16"})
        public int batch;

        /** Slots of the ring, and of the queue: the largest power of two of messages that fits a page. */
        int slots;

        /** @throws IllegalArgumentException naming the parameter and its allowed values */
        void check() {
            if (message < MIN_MESSAGE || message > MAX_MESSAGE) {
                throw new IllegalArgumentException("message: " + message + " bytes is not allowed; use " + MIN_MESSAGE
                    + " to " + MAX_MESSAGE);
            }
            slots = SharedRing.size(message);
            if (batch < 1 || batch > slots) {
                throw new IllegalArgumentException("batch: " + batch + " is not allowed; use 1 to " + slots
                    + " (the ring's slots for " + message + "-byte messages)");
            }
        }
    }

    /** Per-thread counters; JMH sums the two threads' values. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        /** Messages received and checked (consumer). */
        public long transfers;
        /** Producer calls that could not place a single message: the transport was full. */
        public long failedOffers;
        /** Consumer calls that found no message. */
        public long emptyPolls;

        @Setup(Level.Iteration)
        public void clear() {
            transfers = 0;
            failedOffers = 0;
            emptyPolls = 0;
        }
    }

    /** The producer's side of one implementation; one thread calls it. */
    interface Producer {
        /** Offers up to {@code batch} messages and returns at once. */
        void produce(Counters counters);

        /** Messages handed to the transport so far (the next sequence number). */
        long sent();
    }

    /** The consumer's side; one thread calls it. */
    interface Consumer {
        /** Takes what is available (one message with {@code batch} 1) and returns at once. */
        void consume(Counters counters);

        /** Messages received and checked so far (the next sequence number expected). */
        long received();
    }

    static byte[] template(int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + 7);
        }
        return bytes;
    }

    /** Sequence number in the first 8 bytes, its complement in the last 8: a torn copy shows. */
    static void stamp(byte[] message, int length, long sequence) {
        LONGS.set(message, 0, sequence);
        LONGS.set(message, length - 8, ~sequence);
    }

    /** @throws IllegalStateException when the copy is not message {@code expected}, whole */
    static void check(byte[] copy, int length, long expected) {
        long head = (long) LONGS.get(copy, 0);
        long tail = (long) LONGS.get(copy, length - 8);
        if (head != expected || tail != ~expected) {
            throw new IllegalStateException("expected message " + expected + " but received sequence " + head
                + " with tail stamp " + ~tail);
        }
    }

    // ---- the shared ring ----

    /** The ring's page in its own small machine memory, with a fresh header. */
    @State(Scope.Group)
    public static class RingPage extends Shape {
        /**
         * How each side publishes: {@code check} is Xen's {@code RING_PUSH_*_AND_CHECK_NOTIFY}
         * (release store, full fence, the peer's event index loaded), what a peer that may sleep
         * needs; {@code release} is {@code RING_PUSH_*} (the release store alone), enough only for a
         * peer that polls and never sleeps. The peers have no sleep protocol and so no fence.
         */
        @Param({"check", "release"})
        public String publish;

        boolean checkNotify;
        MachineMemory memory;

        @Setup(Level.Trial)
        public void open() {
            check();
            if (!"check".equals(publish) && !"release".equals(publish)) {
                throw new IllegalArgumentException("publish: '" + publish + "' is not allowed; use check or release");
            }
            checkNotify = publish.equals("check");
            memory = new MachineMemory(MachineMemory.MIN_BYTES);
            // Writes the header; each thread then attaches its own end (its private indices stay on its side).
            new FrontRing(memory, MACHINE_ADDRESS, RING_MA, message, true, 0);
        }

        @TearDown(Level.Trial)
        public void close() {
            memory.close();
        }
    }

    /** The front end: writes requests, collects responses to regain slots. */
    @State(Scope.Thread)
    public static class RingProducer implements Producer {
        private MachineMemory memory;
        private FrontRing front;
        private int length;
        private int batch;
        private boolean checkNotify;
        private byte[] template;
        private long sent;
        private long answered;

        @Setup(Level.Trial)
        public void attach(RingPage page) {
            memory = page.memory;
            length = page.message;
            batch = page.batch;
            checkNotify = page.checkNotify;
            front = new FrontRing(memory, MACHINE_ADDRESS, RING_MA, length, false, 0);
            template = template(length);
        }

        @Override
        public void produce(Counters counters) {
            if (front.freeRequests() < batch) {
                collectResponses();
            }
            int room = Math.min(batch, front.freeRequests());
            if (room == 0) {
                counters.failedOffers++;
                return;
            }
            for (int i = 0; i < room; i++) {
                stamp(template, length, sent++);
                memory.putBytes(front.nextRequest(), template, 0, length);
                front.produced();
            }
            if (checkNotify) {
                // req_prod release, full fence, req_event load; the answer is no while the back end polls.
                front.pushRequestsAndCheckNotify();
            } else {
                front.pushRequests();
            }
        }

        /** Takes every published response (rsp_prod acquired once) and frees their slots. */
        void collectResponses() {
            int available = front.unconsumedResponses();
            if (available < 0) {
                throw new IllegalStateException("the back end published more responses than there are requests");
            }
            for (int i = 0; i < available; i++) {
                long id = memory.getLong(front.response(i));
                if (id != answered) {
                    throw new IllegalStateException("expected the response to request " + answered + " but got " + id);
                }
                answered++;
            }
            front.consumedResponses(available);
        }

        @Override
        public long sent() {
            return sent;
        }

        /** Requests not yet answered by a collected response. */
        long outstanding() {
            return sent - answered;
        }
    }

    /** The back end: takes requests, answers each with its id in the same slot. */
    @State(Scope.Thread)
    public static class RingConsumer implements Consumer {
        private MachineMemory memory;
        private BackRing back;
        private int length;
        private int batch;
        private boolean checkNotify;
        private byte[] copy;
        private long received;
        /** Requests seen published at the last req_prod load and not yet taken. */
        private int seen;

        @Setup(Level.Trial)
        public void attach(RingPage page) {
            memory = page.memory;
            length = page.message;
            batch = page.batch;
            checkNotify = page.checkNotify;
            back = new BackRing(memory, MACHINE_ADDRESS, RING_MA, length);
            copy = new byte[length];
        }

        @Override
        public void consume(Counters counters) {
            if (seen == 0) {
                // req_prod is loaded (acquire) only when the requests seen last time are all taken, as
                // blkback reads it once per pass: the shared header line is not touched per request.
                int available = back.unconsumedRequests();
                if (available <= 0) {
                    if (available < 0) {
                        throw new IllegalStateException("the front end published more requests than the ring holds");
                    }
                    counters.emptyPolls++;
                    return;
                }
                seen = available;
            }
            int take = batch == 1 ? 1 : seen;
            seen -= take;
            for (int i = 0; i < take; i++) {
                memory.getBytes(back.request(i), copy, 0, length);
                check(copy, length, received);
                // The response takes the slot of the request just copied (rsp_prod_pvt == req_cons + i).
                memory.putLong(back.nextResponse(), received);
                back.produced();
                received++;
            }
            back.consumedRequests(take);
            if (checkNotify) {
                // rsp_prod release, full fence, rsp_event load.
                back.pushResponsesAndCheckNotify();
            } else {
                back.pushResponses();
            }
            counters.transfers += take;
        }

        @Override
        public long received() {
            return received;
        }
    }

    // ---- JCTools SpscArrayQueue ----

    /** A queue of {@code slots} references and the arrays it carries. */
    @State(Scope.Group)
    public static class Queue extends Shape {
        SpscArrayQueue<byte[]> queue;
        byte[][] pool;

        @Setup(Level.Trial)
        public void open() {
            check();
            queue = new SpscArrayQueue<>(slots);
            if (queue.capacity() != slots) {
                throw new IllegalStateException("SpscArrayQueue holds " + queue.capacity() + ", not " + slots);
            }
            // Queued (slots) + held by the consumer (1) + filled before an offer succeeds (1).
            pool = new byte[slots + 2][message];
        }
    }

    @State(Scope.Thread)
    public static class QueueProducer implements Producer, MessagePassingQueue.Supplier<byte[]> {
        private SpscArrayQueue<byte[]> queue;
        private byte[][] pool;
        private int length;
        private int batch;
        private byte[] template;
        private int next;
        private byte[] pending;
        private long sent;

        @Setup(Level.Trial)
        public void attach(Queue q) {
            queue = q.queue;
            pool = q.pool;
            length = q.message;
            batch = q.batch;
            template = template(length);
        }

        @Override
        public void produce(Counters counters) {
            if (batch == 1) {
                // Filled once; a full queue is retried with the same array, not refilled.
                byte[] message = pending != null ? pending : fill(sent);
                if (queue.offer(message)) {
                    pending = null;
                    sent++;
                } else {
                    pending = message;
                    counters.failedOffers++;
                }
            } else if (queue.fill(this, batch) == 0) {
                counters.failedOffers++;
            }
        }

        /** Called by {@code fill} only for a slot known to be free. */
        @Override
        public byte[] get() {
            return fill(sent++);
        }

        private byte[] fill(long sequence) {
            byte[] message = pool[next];
            next = next + 1 == pool.length ? 0 : next + 1;
            stamp(template, length, sequence);
            System.arraycopy(template, 0, message, 0, length);
            return message;
        }

        @Override
        public long sent() {
            return sent;
        }
    }

    @State(Scope.Thread)
    public static class QueueConsumer implements Consumer, MessagePassingQueue.Consumer<byte[]> {
        private SpscArrayQueue<byte[]> queue;
        private int length;
        private int batch;
        private byte[] copy;
        private long received;

        @Setup(Level.Trial)
        public void attach(Queue q) {
            queue = q.queue;
            length = q.message;
            batch = q.batch;
            copy = new byte[length];
        }

        @Override
        public void consume(Counters counters) {
            if (batch == 1) {
                byte[] message = queue.poll();
                if (message == null) {
                    counters.emptyPolls++;
                } else {
                    accept(message);
                    counters.transfers++;
                }
            } else {
                int taken = queue.drain(this);
                if (taken == 0) {
                    counters.emptyPolls++;
                } else {
                    counters.transfers += taken;
                }
            }
        }

        @Override
        public void accept(byte[] message) {
            System.arraycopy(message, 0, copy, 0, length);
            check(copy, length, received++);
        }

        @Override
        public long received() {
            return received;
        }
    }

    // ---- Agrona OneToOneRingBuffer ----

    /** A ring buffer over off-heap memory, its data area the smallest power of two holding {@code slots} records. */
    @State(Scope.Group)
    public static class Buffer extends Shape {
        ByteBuffer memory;
        OneToOneRingBuffer ring;

        @Setup(Level.Trial)
        public void open() {
            check();
            int record = BitUtil.align(RecordDescriptor.HEADER_LENGTH + message, RecordDescriptor.ALIGNMENT);
            int capacity = BitUtil.findNextPositivePowerOfTwo(slots * record);
            int length = capacity + RingBufferDescriptor.TRAILER_LENGTH;
            // Aligned by offset, as MachineMemory does: an aligned slice could not be freed.
            memory = ByteBuffer.allocateDirect(length + BitUtil.CACHE_LINE_LENGTH);
            long address = BufferUtil.address(memory);
            int offset = (int) (BitUtil.align(address, BitUtil.CACHE_LINE_LENGTH) - address);
            ring = new OneToOneRingBuffer(new UnsafeBuffer(memory, offset, length));
            if (ring.maxMsgLength() < message) {
                throw new IllegalStateException("a " + capacity + "-byte ring buffer takes messages up to "
                    + ring.maxMsgLength() + " bytes, not " + message);
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            BufferUtil.free(memory);
        }
    }

    @State(Scope.Thread)
    public static class BufferProducer implements Producer {
        private OneToOneRingBuffer ring;
        private AtomicBuffer buffer;
        private int length;
        private int batch;
        private byte[] template;
        private long sent;

        @Setup(Level.Trial)
        public void attach(Buffer b) {
            ring = b.ring;
            buffer = b.ring.buffer();
            length = b.message;
            batch = b.batch;
            template = template(length);
        }

        @Override
        public void produce(Counters counters) {
            int written = 0;
            while (written < batch) {
                int index = ring.tryClaim(MESSAGE_TYPE, length);
                if (index < 0) {
                    break;
                }
                stamp(template, length, sent);
                buffer.putBytes(index, template, 0, length);
                ring.commit(index);
                sent++;
                written++;
            }
            if (written == 0) {
                counters.failedOffers++;
            }
        }

        @Override
        public long sent() {
            return sent;
        }
    }

    @State(Scope.Thread)
    public static class BufferConsumer implements Consumer, MessageHandler {
        private OneToOneRingBuffer ring;
        private int length;
        private int limit;
        private byte[] copy;
        private long received;

        @Setup(Level.Trial)
        public void attach(Buffer b) {
            ring = b.ring;
            length = b.message;
            limit = b.batch == 1 ? 1 : Integer.MAX_VALUE;
            copy = new byte[length];
        }

        @Override
        public void consume(Counters counters) {
            int taken = ring.read(this, limit);
            if (taken == 0) {
                counters.emptyPolls++;
            } else {
                counters.transfers += taken;
            }
        }

        @Override
        public void onMessage(int type, MutableDirectBuffer buffer, int index, int bytes) {
            if (bytes != length) {
                throw new IllegalStateException("expected a " + length + "-byte message but got " + bytes + " bytes");
            }
            buffer.getBytes(index, copy, 0, length);
            check(copy, length, received++);
        }

        @Override
        public long received() {
            return received;
        }
    }

    // ---- the groups ----

    @Benchmark
    @Group("sharedRing")
    @GroupThreads(1)
    public void sharedRingFrontEnd(RingProducer producer, Counters counters) {
        producer.produce(counters);
    }

    @Benchmark
    @Group("sharedRing")
    @GroupThreads(1)
    public void sharedRingBackEnd(RingConsumer consumer, Counters counters) {
        consumer.consume(counters);
    }

    @Benchmark
    @Group("spscArrayQueue")
    @GroupThreads(1)
    public void spscArrayQueueOffer(QueueProducer producer, Counters counters) {
        producer.produce(counters);
    }

    @Benchmark
    @Group("spscArrayQueue")
    @GroupThreads(1)
    public void spscArrayQueuePoll(QueueConsumer consumer, Counters counters) {
        consumer.consume(counters);
    }

    @Benchmark
    @Group("oneToOneRingBuffer")
    @GroupThreads(1)
    public void oneToOneRingBufferWrite(BufferProducer producer, Counters counters) {
        producer.produce(counters);
    }

    @Benchmark
    @Group("oneToOneRingBuffer")
    @GroupThreads(1)
    public void oneToOneRingBufferRead(BufferConsumer consumer, Counters counters) {
        consumer.consume(counters);
    }
}
