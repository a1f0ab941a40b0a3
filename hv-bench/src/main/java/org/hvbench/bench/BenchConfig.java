package org.hvbench.bench;

import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.mem.MachineMemory;

/** Settings shared by the benchmarks: the machine from system properties, parameter parsing. */
final class BenchConfig {
    /** System property for machine memory, e.g. {@code -Dhvbench.memory=512m}. */
    static final String MEMORY_PROPERTY = "hvbench.memory";

    private BenchConfig() {
    }

    static MachineConfig machine() {
        MachineConfig config = MachineConfig.defaults();
        String memory = System.getProperty(MEMORY_PROPERTY);
        if (memory != null) {
            config.memory(memory);
        }
        return config;
    }

    /** @throws IllegalArgumentException naming the parameter {@code operation} */
    static int opcode(String operation) {
        switch (operation) {
            case "read":
                return Aio.PREAD;
            case "write":
                return Aio.PWRITE;
            default:
                throw new IllegalArgumentException("operation: '" + operation + "' is unknown; use read or write");
        }
    }

    static long roundToPage(int bytes) {
        return (bytes + MachineMemory.PAGE_MASK) & ~MachineMemory.PAGE_MASK;
    }
}
