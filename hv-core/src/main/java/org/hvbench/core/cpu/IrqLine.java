package org.hvbench.core.cpu;

/** The wire from a device to one vector of one CPU's interrupt controller. */
public final class IrqLine {
    private final InterruptController controller;
    private final int vector;

    public IrqLine(InterruptController controller, int vector) {
        if (vector < 0 || vector >= InterruptController.VECTORS) {
            throw new IllegalArgumentException("interrupt vector must be 0.." + (InterruptController.VECTORS - 1) + "; got " + vector);
        }
        this.controller = controller;
        this.vector = vector;
    }

    /** Asserts the line; returns false when the vector was already pending (coalesced). */
    public boolean raise() {
        return controller.raise(vector);
    }

    public int vector() {
        return vector;
    }
}
