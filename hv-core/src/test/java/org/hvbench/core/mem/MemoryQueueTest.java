package org.hvbench.core.mem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MemoryQueueTest {
    private static final Translator IDENTITY = (address, access) -> address;

    @Test
    void fillDrainAndWrapPast2To32() {
        try (MachineMemory m = new MachineMemory(1L << 20)) {
            long base = 0x10000;
            int start = -3; // 2^32 - 3: the indices wrap during the test
            m.putInt(base + MemoryQueue.PRODUCER_OFFSET, start);
            m.putInt(base + MemoryQueue.CONSUMER_OFFSET, start);
            QueueProducer producer = new QueueProducer(m, IDENTITY, base, 16, 8);
            QueueConsumer consumer = new QueueConsumer(m, IDENTITY, base, 16, 8);
            long value = 0;
            for (int round = 0; round < 5; round++) {
                assertEquals(8, producer.freeSlots());
                for (int i = 0; i < 8; i++) {
                    m.putLong(producer.slot(i), value + i);
                }
                producer.publish(8);
                assertEquals(0, producer.freeSlots(), "a full queue offers nothing");
                assertEquals(8, consumer.available());
                for (int i = 0; i < 8; i++) {
                    assertEquals(value + i, m.getLong(consumer.slot(i)));
                }
                consumer.consume(8);
                value += 8;
            }
            assertEquals(start + 40, producer.producerIndex());
            assertTrue(Integer.compareUnsigned(start, producer.producerIndex()) > 0, "the index wrapped");
        }
    }

    @Test
    void slotsNeverStraddleAPage() {
        for (int slot : new int[] {16, 128, 256, 4096}) {
            for (int i = 0; i < 64; i++) {
                long a = MemoryQueue.slotAddress(0, slot, 64, i);
                assertEquals(a >>> 12, (a + slot - 1) >>> 12, "slot " + i + " of " + slot + " bytes");
            }
        }
    }

    @Test
    void aConsumerSeesAProducerFarAheadAsSuch() {
        try (MachineMemory m = new MachineMemory(1L << 20)) {
            QueueConsumer consumer = new QueueConsumer(m, IDENTITY, 0, 16, 8);
            m.putInt(MemoryQueue.PRODUCER_OFFSET, 1000);
            assertEquals(1000, consumer.available(), "raw distance, for the caller to refuse");
            m.putInt(MemoryQueue.PRODUCER_OFFSET, -1);
            assertEquals(0xFFFF_FFFFL, consumer.available(), "unsigned, never negative");
        }
    }
}
