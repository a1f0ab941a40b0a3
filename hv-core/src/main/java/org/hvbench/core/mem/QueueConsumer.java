package org.hvbench.core.mem;

/**
 * The consuming side of a {@link MemoryQueue}. Reads the producer index with acquire order, reads
 * the slots, then publishes its own index with release order so the producer may reuse them.
 *
 * <p>The producer may be untrusted (a guest writing a queue a hypervisor reads): {@link #available}
 * returns the raw distance, and the caller must treat a value above {@link #entries} as a broken
 * or hostile producer, never as work to do.
 */
public final class QueueConsumer {
    private final MachineMemory memory;
    private final Translator translator;
    private final long base;
    private final int slotSize;
    private final int entries;
    private int consumer;

    /** Takes up the consumer index the queue header holds now (zero for a fresh queue). */
    public QueueConsumer(MachineMemory memory, Translator translator, long base, int slotSize, int entries) {
        MemoryQueue.check(base, slotSize, entries);
        this.memory = memory;
        this.translator = translator;
        this.base = base;
        this.slotSize = slotSize;
        this.entries = entries;
        long header = translator.translate(base, Translation.READ);
        if (header < 0) {
            throw new IllegalArgumentException("queue header at 0x" + Long.toHexString(base) + " is not mapped for this consumer");
        }
        this.consumer = memory.getIntAcquire(header + MemoryQueue.CONSUMER_OFFSET);
    }

    /**
     * Published slots not yet consumed, as an unsigned distance read once (acquire): may exceed
     * {@link #entries} when the producer is broken; a negative errno when the header does not translate.
     */
    public long available() {
        long header = translator.translate(base, Translation.READ);
        if (header < 0) {
            return header;
        }
        int producer = memory.getIntAcquire(header + MemoryQueue.PRODUCER_OFFSET);
        return Integer.toUnsignedLong(producer - consumer);
    }

    /** The machine address of the slot {@code ahead} places past the consumer index, for reading. */
    public long slot(int ahead) {
        return translator.translate(MemoryQueue.slotAddress(base, slotSize, entries, consumer + ahead), Translation.READ);
    }

    /** Releases {@code count} slots: consumer index store with release order. */
    public int consume(int count) {
        long header = translator.translate(base, Translation.WRITE);
        if (header < 0) {
            return (int) header;
        }
        consumer += count;
        memory.putIntRelease(header + MemoryQueue.CONSUMER_OFFSET, consumer);
        return 0;
    }

    public int consumerIndex() {
        return consumer;
    }

    public int entries() {
        return entries;
    }

    public int slotSize() {
        return slotSize;
    }
}
