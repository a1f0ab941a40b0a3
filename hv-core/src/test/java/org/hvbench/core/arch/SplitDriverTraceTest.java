package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.GrantMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The split-driver placements at depth 1: DESIGN section 6's crossings, in order, per grant mode. */
class SplitDriverTraceTest {
    static List<String> trace(Placement placement, GrantMode mode, int opcode) {
        try (IoPath path = placement.open(MachineConfig.defaults().memory(96L << 20), 1, mode)) {
            long buffer = path.app().allocateBuffer(4096);
            path.app().prepare(path.cpu(), 0, opcode, 0, buffer, 4096, 7);
            InlineExecutor executor = new InlineExecutor(path);
            executor.runBatch(1);
            CrossingTrace trace = path.trace();
            trace.reset();
            trace.startRecording();
            executor.runBatch(1);
            trace.stopRecording();
            assertEquals(4096, path.app().result(7));
            List<String> steps = new ArrayList<>();
            for (int i = 0; i < trace.size(); i++) {
                steps.add(trace.kind(i) + " " + trace.from(i) + "->" + trace.to(i));
            }
            return steps;
        }
    }

    @ParameterizedTest
    @CsvSource({"0", "1"})
    void ioPartitionWithPersistentGrantsGivesElevenCrossings(int opcode) {
        assertEquals(List.of(
            "SYSCALL guest-app->guest-kernel",
            "HYPERCALL guest-kernel->hypervisor",
            "VIRQ hypervisor->partition-kernel",
            "DEVICE_START partition-kernel->device",
            "VMENTRY hypervisor->guest-kernel",
            "SYSRET guest-kernel->guest-app",
            "DEVICE_IRQ device->hypervisor",
            "VIRQ hypervisor->partition-kernel",
            "HYPERCALL partition-kernel->hypervisor",
            "VIRQ hypervisor->guest-kernel",
            "UPCALL guest-kernel->guest-app"), trace(Placement.IO_PARTITION, GrantMode.PERSISTENT, opcode));
    }

    @ParameterizedTest
    @CsvSource({"0", "1"})
    void mapModeAddsAMapAndAnUnmapRoundTrip(int opcode) {
        assertEquals(List.of(
            "SYSCALL guest-app->guest-kernel",
            "HYPERCALL guest-kernel->hypervisor",
            "VIRQ hypervisor->partition-kernel",
            "HYPERCALL partition-kernel->hypervisor",
            "VMENTRY hypervisor->partition-kernel",
            "DEVICE_START partition-kernel->device",
            "VMENTRY hypervisor->guest-kernel",
            "SYSRET guest-kernel->guest-app",
            "DEVICE_IRQ device->hypervisor",
            "VIRQ hypervisor->partition-kernel",
            "HYPERCALL partition-kernel->hypervisor",
            "VMENTRY hypervisor->partition-kernel",
            "HYPERCALL partition-kernel->hypervisor",
            "VIRQ hypervisor->guest-kernel",
            "UPCALL guest-kernel->guest-app"), trace(Placement.IO_PARTITION, GrantMode.MAP, opcode));
    }

    @org.junit.jupiter.api.Test
    void copyModeCopiesBeforeAWriteAndAfterARead() {
        List<String> copyRoundTrip = List.of("HYPERCALL partition-kernel->hypervisor", "VMENTRY hypervisor->partition-kernel");
        List<String> write = trace(Placement.IO_PARTITION, GrantMode.COPY, Aio.PWRITE);
        List<String> read = trace(Placement.IO_PARTITION, GrantMode.COPY, Aio.PREAD);
        assertEquals(13, write.size(), write.toString());
        assertEquals(13, read.size(), read.toString());
        assertEquals(copyRoundTrip, write.subList(3, 5), "write: copied in before the device starts");
        assertEquals("DEVICE_START partition-kernel->device", write.get(5));
        assertEquals(copyRoundTrip, read.subList(8, 10), "read: copied out after the interrupt");
        assertEquals("VIRQ hypervisor->partition-kernel", read.get(7));
    }

    @ParameterizedTest
    @CsvSource({"0", "1"})
    void emulatorWithPersistentMappingsGivesSixteenCrossings(int opcode) {
        assertEquals(List.of(
            "SYSCALL guest-app->guest-kernel",
            "VMEXIT guest-kernel->hypervisor",
            "VIRQ hypervisor->partition-kernel",
            "UPCALL partition-kernel->emulator",
            "SYSCALL emulator->partition-kernel",
            "DEVICE_START partition-kernel->device",
            "SYSRET partition-kernel->emulator",
            "VMENTRY hypervisor->guest-kernel",
            "SYSRET guest-kernel->guest-app",
            "DEVICE_IRQ device->hypervisor",
            "VIRQ hypervisor->partition-kernel",
            "UPCALL partition-kernel->emulator",
            "SYSCALL emulator->partition-kernel",
            "HYPERCALL partition-kernel->hypervisor",
            "VIRQ hypervisor->guest-kernel",
            "UPCALL guest-kernel->guest-app"), trace(Placement.DOM0_EMULATOR, GrantMode.PERSISTENT, opcode));
    }
}
