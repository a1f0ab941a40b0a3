package org.hvbench.report;

import static org.hvbench.report.PlacementTableTest.resource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Threaded against inline from a real (short, trimmed) JMH run of both executors. */
class ExecutorTableTest {
    @Test
    void pairsEachThreadedSettingWithItsInlineRunAndPicksTheFastestIdleStrategy() throws Exception {
        List<JmhResult> results = JmhResult.read(resource("threaded-smoke-jdk17.json"));
        List<ExecutorTable.Row> rows = ExecutorTable.build(results);
        assertEquals(List.of("native", "passthrough"), rows.stream().map(ExecutorTable.Row::placement).toList());
        ExecutorTable.Row passthrough = rows.get(1);
        assertEquals(3, passthrough.threaded().size(), "spin, backoff and park");
        assertEquals("spin", passthrough.bestIdle());
        assertEquals("backoff", rows.get(0).bestIdle());
        String md = ExecutorTable.markdown(rows);
        assertTrue(md.contains("| passthrough | 1,367,364 | 906,071 | 68,013 | 72,593 | spin | 1.51 | 6.00 |"), md);
    }

    @Test
    void inlineOnlyResultsGiveNoTable() throws Exception {
        List<JmhResult> results = JmhResult.read(resource("quick-jdk17.json"));
        assertTrue(ExecutorTable.build(results).isEmpty());
        assertEquals("", ExecutorTable.markdown(ExecutorTable.build(results)));
    }
}
