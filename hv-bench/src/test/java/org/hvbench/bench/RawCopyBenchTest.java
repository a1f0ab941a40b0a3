package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The floor checks its work: a copy that did not happen fails the iteration. */
class RawCopyBenchTest {
    @ParameterizedTest(name = "{0} {1} B depth {2}")
    @CsvSource({"read, 4096, 1", "write, 65536, 32", "read, 512, 32"})
    void theCheckPassesAfterCopiesAndFailsWithout(String operation, int size, int depth) {
        RawCopyBench bench = new RawCopyBench();
        bench.operation = operation;
        bench.size = size;
        bench.depth = depth;
        bench.boot();
        try {
            assertThrows(IllegalStateException.class, bench::check, "before any copy, memory and disk differ");
            CopyCounters counters = new CopyCounters();
            assertEquals(0, bench.copy(counters));
            assertEquals(depth, counters.ios);
            bench.check();
        } finally {
            bench.shutdown();
        }
    }
}
