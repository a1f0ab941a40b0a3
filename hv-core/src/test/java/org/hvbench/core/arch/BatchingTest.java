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
 * hypercall round trip and start-I/O.
 */
class BatchingTest {
    @ParameterizedTest(name = "{0} {1} B")
    @CsvSource({
        "native, 4096, 5",
        "hypervisor-pv, 4096, 8",
        "hypervisor-trap, 4096, 8",
        "native, 65536, 5",
        "hypervisor-pv, 65536, 11",
        "hypervisor-trap, 65536, 8"})
    void crossingsOfADepth32Batch(String placement, int size, int crossings) {
        int depth = 32;
        try (IoPath path = Placement.parse(placement).open(MachineConfig.defaults().memory(64L << 20), depth)) {
            InlineExecutor executor = new InlineExecutor(path);
            for (int i = 0; i < depth; i++) {
                long buffer = path.app().allocateBuffer(size);
                path.app().prepare(path.cpu(), i, Aio.PREAD, (long) i * size, buffer, size, i);
            }
            CrossingTrace trace = path.trace();
            for (int round = 0; round < 3; round++) {
                trace.reset();
                executor.runBatch(depth);
                assertEquals(crossings, trace.total(), "crossings for " + depth + " I/Os, round " + round);
                assertEquals(1, trace.count(Crossing.SYSCALL));
                assertEquals(1, trace.count(Crossing.UPCALL), "one signal for the whole batch");
                assertEquals(1, trace.count(Crossing.DEVICE_IRQ), "one interrupt for the whole batch");
            }
            for (int i = 0; i < depth; i++) {
                assertEquals(size, path.app().result(i));
            }
        }
    }
}
