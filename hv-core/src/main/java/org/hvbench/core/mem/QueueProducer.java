package org.hvbench.core.mem;

/**
 * The producing side of a {@link MemoryQueue}. Writes slots, then publishes the new producer index
 * with release order, so a consumer that reads the index with acquire order sees the slots' bytes.
 */
public final class QueueProducer {
    private final MachineMemory memory;
    private final Translator translator;
    private final long base;
    private final int slotSize;
    private final int entries;
    private int producer;

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
    }

    /** Slots free now: reads the consumer index with acquire order (the consumer released them). */
    public int freeSlots() {
        long header = translator.translate(base, Translation.READ);
        if (header < 0) {
            return 0;
        }
        int free = entries - (producer - memory.getIntAcquire(header + MemoryQueue.CONSUMER_OFFSET));
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
