package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GrantBench's set-up, one round of moves and the end-of-iteration check, driven directly: in every
 * grant mode the guests' bytes arrive and the check passes, with the crossings each mode pays; and the
 * check fails when the grants were revoked (the maps or copies fail), when the bytes that arrive are
 * not the guest's, and when nothing ran.
 */
class GrantBenchTest {
    static List<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (String mode : new String[] {"map", "copy", "persistent"}) {
            for (int payload : new int[] {512, 4096, 65536}) {
                for (int guests : new int[] {1, 16}) {
                    cases.add(Arguments.of(mode, payload, guests));
                }
            }
        }
        return cases;
    }

    private static GrantBench boot(String mode, int payload, int guests) {
        GrantBench bench = new GrantBench();
        bench.grantMode = mode;
        bench.payload = payload;
        bench.guests = guests;
        bench.tlbTagged = false;
        bench.boot();
        bench.startIteration();
        return bench;
    }

    @ParameterizedTest(name = "{0}, {1} bytes, {2} guests")
    @MethodSource("cases")
    void everyGuestsBytesArriveAndTheCheckPasses(String mode, int payload, int guests) {
        GrantBench bench = boot(mode, payload, guests);
        try {
            OpCounters ops = new OpCounters();
            GrantBench.Bytes bytes = new GrantBench.Bytes();
            for (int g = 0; g < guests; g++) {
                assertEquals(0, bench.move(bytes, ops), "guest " + g);
            }
            bench.checkIteration();
            assertEquals(guests, ops.ops);
            assertEquals((long) guests * payload, bytes.bytes);
            // map: a map and an unmap hypercall, copy: one, persistent: none (two crossings each).
            int crossingsPerMove = mode.equals("map") ? 4 : mode.equals("copy") ? 2 : 0;
            assertEquals((long) guests * crossingsPerMove, ops.crossings);
            assertTrue(ops.tlbMisses > 0, "the first accesses miss the TLB");
        } finally {
            bench.shutdown();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"map", "copy"})
    void theCheckFailsWhenTheGuestRevokedItsGrants(String mode) {
        GrantBench bench = boot(mode, 4096, 1);
        try {
            assertEquals(0, bench.tables[0].revoke(bench.refs[0][0]), "nothing holds the grant between moves");
            bench.move(new GrantBench.Bytes(), new OpCounters());
            IllegalStateException e = assertThrows(IllegalStateException.class, bench::checkIteration);
            assertTrue(e.getMessage().contains("a " + mode + " operation's status of page 0 was"), e.getMessage());
        } finally {
            bench.shutdown();
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"map", "copy", "persistent"})
    void theCheckFailsWhenTheBytesThatArriveAreNotTheGuests(String mode) {
        GrantBench bench = boot(mode, 4096, 1);
        try {
            bench.guestMemory[0].hostWrite(bench.dataGpa[0] + 100, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 0, 8);
            bench.move(new GrantBench.Bytes(), new OpCounters());
            IllegalStateException e = assertThrows(IllegalStateException.class, bench::checkIteration);
            assertTrue(e.getMessage().contains("byte 10"), e.getMessage());
        } finally {
            bench.shutdown();
        }
    }

    @Test
    void theCheckFailsWhenNothingRan() {
        GrantBench bench = boot("copy", 512, 1);
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, bench::checkIteration);
            assertTrue(e.getMessage().contains("no operation ran"), e.getMessage());
        } finally {
            bench.shutdown();
        }
    }
}
