package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * At queue depth 32 one system call carries the batch, one start-I/O starts it and one interrupt
 * ends it, so crossings per I/O fall to the depth-1 count divided by 32. A 64 KiB I/O is two block
 * requests; 64 of them overflow one paravirtual hypercall batch (32 requests), which costs one more
 * hypercall round trip and start-I/O, overflow the split drivers' ring of 32 slots, which costs
 * a second round of the whole exchange, and overflow the emulator's room for I/O, which starts the
 * rest from its first completion round. Counted after one warm-up batch: with persistent grants the
 * back end maps each pool page the first time it sees it, and only then.
 */
class BatchingTest {
    @ParameterizedTest(name = "{0} {1} B")
    @CsvSource({
        "native, 4096, 5, 1",
        "hypervisor-pv, 4096, 8, 1",
        "hypervisor-trap, 4096, 8, 1",
        "io-partition, 4096, 11, 1",
        "dom0-emulator, 4096, 16, 1",
        "native, 65536, 5, 1",
        "hypervisor-pv, 65536, 11, 1",
        "hypervisor-trap, 65536, 8, 1",
        "io-partition, 65536, 22, 2",
        "dom0-emulator, 65536, 26, 2"})
    void crossingsOfADepth32Batch(String placement, int size, int crossings, int interrupts) {
        int depth = 32;
        try (IoPath path = Placement.parse(placement).open(MachineConfig.defaults().memory(96L << 20), depth)) {
            InlineExecutor executor = new InlineExecutor(path);
            for (int i = 0; i < depth; i++) {
                long buffer = path.app().allocateBuffer(size);
                path.app().prepare(path.cpu(), i, Aio.PREAD, (long) i * size, buffer, size, i);
            }
            CrossingTrace trace = path.trace();
            executor.runBatch(depth);
            for (int round = 0; round < 3; round++) {
                trace.reset();
                long notifications = path.notifications();
                executor.runBatch(depth);
                if (placement.equals("io-partition")) {
                    assertEquals(size == 4096 ? 2 : 4, path.notifications() - notifications,
                        "one event each way per ring-full: 2 per 32 I/Os of 4 KiB, well under one per 8");
                }
                assertEquals(crossings, trace.total(), "crossings for " + depth + " I/Os, round " + round);
                assertEquals(interrupts, trace.count(Crossing.DEVICE_IRQ), "one device interrupt per round");
            }
            for (int i = 0; i < depth; i++) {
                assertEquals(size, path.app().result(i));
            }
        }
    }
}
