package org.hvbench.core.hv;

/**
 * Exit reasons of a trapped privileged instruction ({@link Hypervisor#vmexit}). The guest kernel of a
 * fully virtualized domain programs what it takes for a real device; each register write is a
 * privileged instruction that exits to the hypervisor, whose device model acts on it.
 */
public final class VmExit {
    /** A write to a device register: qualification = register number, value = what was written. */
    public static final int MMIO_WRITE = 1;

    private VmExit() {
    }
}
