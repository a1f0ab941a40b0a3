package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/** One asynchronous I/O at queue depth 1 gives exactly the crossings of DESIGN section 6, in order. */
class CrossingTraceTest {

    static List<String> traceOfOneIo(Placement placement, int opcode) {
        try (IoPath path = placement.open(MachineConfig.defaults().memory(64L << 20), 1)) {
            long buffer = path.app().allocateBuffer(4096);
            path.app().prepare(path.cpu(), 0, opcode, 0, buffer, 4096, 7);
            InlineExecutor executor = new InlineExecutor(path);
            CrossingTrace trace = path.trace();
            trace.startRecording();
            executor.runBatch(1);
            trace.stopRecording();
            assertEquals(4096, path.app().result(7), "the I/O completed with all its bytes");
            List<String> steps = new ArrayList<>();
            for (int i = 0; i < trace.size(); i++) {
                steps.add(trace.kind(i) + " " + trace.from(i) + "->" + trace.to(i));
            }
            assertEquals(0, trace.idleSwitches(), "no party idled");
            return steps;
        }
    }

    @ParameterizedTest
    @CsvSource({"0", "1"})
    void nativeGivesFiveCrossings(int opcode) {
        assertEquals(List.of(
            "SYSCALL app->kernel",
            "DEVICE_START kernel->device",
            "SYSRET kernel->app",
            "DEVICE_IRQ device->kernel",
            "UPCALL kernel->app"), traceOfOneIo(Placement.NATIVE, opcode));
    }

    @ParameterizedTest
    @CsvSource({"0", "1"})
    void paravirtualHypervisorGivesEightCrossings(int opcode) {
        assertEquals(List.of(
            "SYSCALL guest-app->guest-kernel",
            "HYPERCALL guest-kernel->hypervisor",
            "DEVICE_START hypervisor->device",
            "VMENTRY hypervisor->guest-kernel",
            "SYSRET guest-kernel->guest-app",
            "DEVICE_IRQ device->hypervisor",
            "VIRQ hypervisor->guest-kernel",
            "UPCALL guest-kernel->guest-app"), traceOfOneIo(Placement.HYPERVISOR_PV, opcode));
    }

    @ParameterizedTest
    @CsvSource({"0", "1"})
    void trappingHypervisorGivesEightCrossings(int opcode) {
        assertEquals(List.of(
            "SYSCALL guest-app->guest-kernel",
            "VMEXIT guest-kernel->hypervisor",
            "DEVICE_START hypervisor->device",
            "VMENTRY hypervisor->guest-kernel",
            "SYSRET guest-kernel->guest-app",
            "DEVICE_IRQ device->hypervisor",
            "VIRQ hypervisor->guest-kernel",
            "UPCALL guest-kernel->guest-app"), traceOfOneIo(Placement.HYPERVISOR_TRAP, opcode));
    }

    @ParameterizedTest
    @EnumSource(Placement.class)
    void depthOneCountMatchesThePaper(Placement placement) {
        assertEquals(placement.paperCrossings(),
            SplitDriverTraceTest.trace(placement, org.hvbench.core.guest.GrantMode.PERSISTENT, Aio.PREAD).size());
    }
}
