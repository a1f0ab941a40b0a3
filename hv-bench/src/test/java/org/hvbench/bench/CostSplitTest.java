package org.hvbench.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Set;

import org.hvbench.core.cpu.CostPart;
import org.junit.jupiter.api.Test;

/** The report finds each cost part under {@link CostPart#counter()}: one counter per part, each fed by its own part. */
class CostSplitTest {
    @Test
    void everyPartHasItsOwnCounterAndNothingElseIsCounted() throws Exception {
        Set<String> fields = new HashSet<>();
        for (Field f : CostSplit.class.getFields()) {
            if (!Modifier.isStatic(f.getModifiers())) {
                fields.add(f.getName());
            }
        }
        assertEquals(CostPart.COUNT, fields.size(), "one public counter per cost part: " + fields);
        CostSplit split = new CostSplit();
        for (CostPart p : CostPart.values()) {
            split.add(p, p.ordinal() + 1);
        }
        for (CostPart p : CostPart.values()) {
            Field f = CostSplit.class.getField(p.counter());
            assertEquals(p.ordinal() + 1, f.getDouble(split), 0, p + " lands in " + p.counter());
        }
        split.clear();
        for (CostPart p : CostPart.values()) {
            assertEquals(0, CostSplit.class.getField(p.counter()).getDouble(split), 0, p + " cleared");
        }
    }
}
