package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The README's sHype example on a real I/O partition: every step does what sHype says it should. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CustomerScenarioTest {
    @Test
    void threeCustomersOnOnePartitionGetWhatThePolicyAllowsAndLoseWhatAChangeRevokes() {
        List<CustomerScenario.Step> steps = CustomerScenario.run();
        String table = CustomerScenario.table(steps);
        assertEquals(15, steps.size(), table);
        for (CustomerScenario.Step s : steps) {
            assertTrue(s.asExpected(), () -> "step '" + s.action() + "': " + s.outcome() + "\n" + table);
        }
    }
}
