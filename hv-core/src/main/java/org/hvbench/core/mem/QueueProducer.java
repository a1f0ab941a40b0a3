package org.hvbench.core.mem;

/**
 * The producing side of a {@link MemoryQueue}. Writes slots, then publishes the new producer index
 * with release order, so a consumer that reads the index with acquire order sees the slots' bytes.
 * The consumer index is cached and re-read (acquire) only when the cache says the queue is full.
 */
public final class QueueProducer {
    private final MachineMemory memory;
    private final Translator translator;
    private final long base;
    private final int slotSize;
    private final int entries;
    private int producer;
    private int consumerCache;

    /** Takes up the indices the queue header holds now (zero for a fresh queue). */
    public QueueProducer(MachineMemory memory, Translator translator, long base, int slotSize, int entries) {
        MemoryQueue.check(base, slotSize, entries);
        this.memory = memory;
        this.translator = translator;
        this.base = base;
        this.slotSize = slotSize;
        this.entries = entries;
        long header = translator.translate(base, Translation.READ | Translation.WRITE);
        if (header < 0) {
            throw new IllegalArgumentException("queue header at 0x" + Long.toHexString(base) + " is not mapped for this producer");
        }
        this.producer = memory.getIntAcquire(header + MemoryQueue.PRODUCER_OFFSET);
        this.consumerCache = memory.getIntAcquire(header + MemoryQueue.CONSUMER_OFFSET);
    }

    /** Slots free now; re-reads the consumer index (acquire) only when the cached one shows none. */
    public int freeSlots() {
        int free = entries - (producer - consumerCache);
        if (free <= 0) {
            long header = translator.translate(base, Translation.READ);
            if (header < 0) {
                return 0;
            }
            consumerCache = memory.getIntAcquire(header + MemoryQueue.CONSUMER_OFFSET);
            free = entries - (producer - consumerCache);
        }
        // A consumer index ahead of the producer is a broken peer: offer nothing rather than overrun.
        return free < 0 || free > entries ? 0 : free;
    }

    /**
     * The machine address of the slot {@code ahead} places past the private producer index, for
     * writing; a negative errno when it does not translate. The caller must have checked {@link #freeSlots}.
     */
    public long slot(int ahead) {
        return translator.translate(MemoryQueue.slotAddress(base, slotSize, entries, producer + ahead), Translation.WRITE);
    }

    /** Publishes {@code count} written slots: producer index store with release order. */
    public int publish(int count) {
        long header = translator.translate(base, Translation.WRITE);
        if (header < 0) {
            return (int) header;
        }
        producer += count;
        memory.putIntRelease(header + MemoryQueue.PRODUCER_OFFSET, producer);
        return 0;
    }

    public int producerIndex() {
        return producer;
    }

    public int entries() {
        return entries;
    }

    public int slotSize() {
        return slotSize;
    }
}
