package org.hvbench.core.dev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MachineConfigTest {
    @Test
    void sizesParseWithUnits() {
        assertEquals(256L << 20, MachineConfig.parseBytes("memory", "256m"));
        assertEquals(256L << 20, MachineConfig.parseBytes("memory", "256MiB"));
        assertEquals(1L << 30, MachineConfig.parseBytes("memory", "1g"));
        assertEquals(4096, MachineConfig.parseBytes("memory", "4k"));
        assertEquals(12345, MachineConfig.parseBytes("memory", "12345"));
    }

    @Test
    void everyBadSettingIsNamedWithWhatIsAllowed() {
        assertMessage("memory: 'lots' is not a size", () -> MachineConfig.defaults().memory("lots"));
        assertMessage("memory: 4096 bytes is not allowed", () -> MachineConfig.defaults().memory(4096));
        assertMessage("pageTableLevels: 2 is not allowed; use 3, 4 or 5", () -> MachineConfig.defaults().pageTableLevels(2));
        assertMessage("tlbSets: 12 is not allowed", () -> MachineConfig.defaults().tlb(12, 4));
        assertMessage("diskBytes: 1000 is not allowed", () -> MachineConfig.defaults().diskBytes(1000));
        assertMessage("queueEntries: 3 is not allowed", () -> MachineConfig.defaults().queueEntries(3));
        assertMessage("costProfile: 'fast' is neither", () -> MachineConfig.defaults().costProfile("fast"));
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
        String message = assertThrows(IllegalArgumentException.class, call).getMessage();
        assertTrue(message.startsWith(start), message);
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        MachineConfig c = MachineConfig.defaults();
        assertEquals(256L << 20, c.memoryBytes());
        assertEquals(4, c.pageTableLevels());
        assertEquals("current-x86", c.costProfile());
        assertEquals(64, c.queueEntries());
        assertEquals(false, c.tlbTagged());
    }
}
