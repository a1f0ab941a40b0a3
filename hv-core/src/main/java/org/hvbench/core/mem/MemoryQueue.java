package org.hvbench.core.mem;

/**
 * Layout of the single-producer, single-consumer queues this machine keeps in memory: a device's
 * submission and completion queues, a kernel's completion queue to its application, the
 * hypervisor's response queue to a paravirtual guest. Each side reaches the queue through its own
 * {@link Translator} (a CPU's TLB, a device's DMA translation) and keeps a private copy of its own
 * index; {@link QueueProducer} and {@link QueueConsumer} are the two sides.
 *
 * <pre>
 * | offset              | size            | field                                               |
 * |---------------------|-----------------|-----------------------------------------------------|
 * | 0                   | 4               | producer index, u32 free-running; producer release  |
 * | 64                  | 4               | consumer index, u32 free-running; consumer release  |
 * | slotsOffset         | entries * slot  | slot i at slotsOffset + (index &amp; (entries-1)) * slot |
 * </pre>
 *
 * {@code slotsOffset = max(128, slotSize)}: the two indices sit on separate cache lines, and because
 * the base is page-aligned and the slot size a power of two, no slot straddles a page, so one
 * translation serves a whole slot. Indices wrap at 2^32; {@code producer - consumer} is the fill.
 */
public final class MemoryQueue {
    public static final int PRODUCER_OFFSET = 0;
    public static final int CONSUMER_OFFSET = 64;
    public static final int MIN_SLOTS_OFFSET = 128;
    public static final int MIN_SLOT_BYTES = 8;

    private MemoryQueue() {
    }

    public static int slotsOffset(int slotSize) {
        return Math.max(MIN_SLOTS_OFFSET, slotSize);
    }

    /** Bytes a queue of {@code entries} slots of {@code slotSize} occupies. */
    public static long bytes(int slotSize, int entries) {
        return slotsOffset(slotSize) + (long) slotSize * entries;
    }

    /** Bytes rounded up to whole pages. */
    public static int pages(int slotSize, int entries) {
        return (int) ((bytes(slotSize, entries) + MachineMemory.PAGE_MASK) >>> MachineMemory.PAGE_SHIFT);
    }

    /** The address of the slot for free-running {@code index}. */
    public static long slotAddress(long base, int slotSize, int entries, int index) {
        return base + slotsOffset(slotSize) + (long) (index & (entries - 1)) * slotSize;
    }

    static void check(long base, int slotSize, int entries) {
        if ((base & MachineMemory.PAGE_MASK) != 0) {
            throw new IllegalArgumentException("queue base 0x" + Long.toHexString(base) + " is not page-aligned");
        }
        if (slotSize < MIN_SLOT_BYTES || slotSize > MachineMemory.PAGE_SIZE || Integer.bitCount(slotSize) != 1) {
            throw new IllegalArgumentException("queue slot size must be a power of two from 8 to 4096; got " + slotSize);
        }
        if (entries < 1 || entries > 1 << 16 || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("queue entries must be a power of two from 1 to 65536; got " + entries);
        }
    }
}
