package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * HypercallBench's set-up, operations and end-of-iteration check, driven directly: an entry returns
 * what it names and costs two crossings (HYPERCALL in, VMENTRY out) whatever the batch, and the check
 * fails when a console write fails or when nothing ran.
 */
class HypercallBenchTest {
    private HypercallBench bench;

    @BeforeEach
    void boot() {
        bench = new HypercallBench();
        bench.tlbTagged = false;
        bench.boot();
        bench.startIteration();
    }

    @AfterEach
    void shutdown() {
        bench.shutdown();
    }

    @Test
    void aConsoleWriteReturnsItsBytesAndCostsOneRoundTrip() {
        OpCounters ops = new OpCounters();
        HypercallBench.Calls calls = new HypercallBench.Calls();
        assertEquals(HypercallBench.TEXT_BYTES, bench.single(calls, ops));
        bench.checkIteration();
        assertEquals(1, ops.ops);
        assertEquals(2, ops.crossings, "HYPERCALL in, VMENTRY out");
        assertEquals(1, calls.calls);
        assertTrue(ops.modelledNs > 0, "the crossings cost modelled time");
        assertEquals(0, ops.notifications);
    }

    @Test
    void aMulticallOfEightIsOneEntryWithEightResults() {
        OpCounters ops = new OpCounters();
        HypercallBench.Calls calls = new HypercallBench.Calls();
        HypercallBench.Batch batch = new HypercallBench.Batch();
        batch.calls = 8;
        assertEquals(0, bench.multicall(batch, calls, ops));
        bench.multicall(batch, calls, ops);
        bench.checkIteration();
        assertEquals(2, ops.ops);
        assertEquals(4, ops.crossings, "two crossings per entry, not per console write");
        assertEquals(16, calls.calls);
    }

    @Test
    void theCheckFailsWhenTheConsoleWriteFails() {
        bench.textGpa = 1L << 40; // not mapped in the guest: the hypercall returns -EFAULT
        bench.single(new HypercallBench.Calls(), new OpCounters());
        IllegalStateException e = assertThrows(IllegalStateException.class, bench::checkIteration);
        assertTrue(e.getMessage().contains("1 of 1 hypercalls did not return 16"), e.getMessage());
    }

    @Test
    void theCheckFailsWhenNoHypercallRan() {
        IllegalStateException e = assertThrows(IllegalStateException.class, bench::checkIteration);
        assertTrue(e.getMessage().contains("no hypercall"), e.getMessage());
    }
}
