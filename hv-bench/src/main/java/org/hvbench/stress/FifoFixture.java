package org.hvbench.stress;

import org.hvbench.core.evtchn.FifoDispatcher;
import org.hvbench.core.evtchn.FifoLayout;
import org.hvbench.core.evtchn.FifoQueues;
import org.hvbench.core.mem.MachineMemory;

/**
 * One vCPU's FIFO queues for a stress state: the hypervisor's side and the kernel's dispatcher
 * (identity translation, no hypervisor) over a page of {@link StressMemory}.
 */
final class FifoFixture {
    private final MachineMemory memory = StressMemory.MEMORY;
    private final long control;
    final FifoQueues queues;
    final FifoDispatcher kernel;

    /** @param ports at most 960: the control block and the event array share the page */
    FifoFixture(int ports) {
        control = StressMemory.page();
        long array = control + 256;
        queues = new FifoQueues(memory, control, array, ports);
        kernel = new FifoDispatcher(null, null, memory, StressMemory.IDENTITY, control, array, ports, 8);
    }

    /** The vCPU's CPU taking a notification: the drain links what the inbox holds, then the upcall. */
    void upcall() {
        queues.drain();
        kernel.consume(null);
    }

    /**
     * True when nothing is left: the words of {@code ports} are clear, READY is empty, the inbox held
     * nothing more to link, and the kernel met no corrupt queue.
     */
    boolean clean(int... ports) {
        for (int port : ports) {
            if (queues.word(port) != 0) {
                return false;
            }
        }
        long linked = queues.linked();
        queues.drain();
        return queues.linked() == linked && memory.getIntVolatile(control + FifoLayout.READY) == 0 && kernel.corrupt() == 0;
    }
}
