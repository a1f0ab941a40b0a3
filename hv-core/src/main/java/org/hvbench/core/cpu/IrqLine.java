package org.hvbench.core.cpu;

/**
 * The wire from a device to whatever takes its interrupt: a vector of a CPU's interrupt controller,
 * or a vector posted to a vCPU's posted-interrupt descriptor ({@link PostedInterrupts}).
 */
@FunctionalInterface
public interface IrqLine {
    /** Asserts the line; false when the interrupt was already pending (coalesced). */
    boolean raise();

    /** A line to vector {@code vector} of {@code controller}. */
    static IrqLine of(InterruptController controller, int vector) {
        if (vector < 0 || vector >= InterruptController.VECTORS) {
            throw new IllegalArgumentException("interrupt vector must be 0.." + (InterruptController.VECTORS - 1) + "; got " + vector);
        }
        return () -> controller.raise(vector);
    }
}
