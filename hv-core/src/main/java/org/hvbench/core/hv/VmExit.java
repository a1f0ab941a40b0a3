package org.hvbench.core.hv;

/**
 * Exit reasons of a trapped privileged instruction ({@link Hypervisor#vmexit}). The guest kernel of a
 * fully virtualized domain programs what it takes for a real device; each register write is a
 * privileged instruction that exits to the hypervisor, whose device model acts on it.
 */
public final class VmExit {
    /** A write to a device register: qualification = register number, value = what was written. */
    public static final int MMIO_WRITE = 1;
    /**
     * Start-I/O of a channel program (System/360's SIO): qualification = guest-physical address of the
     * chain's first command, value = guest-physical address of its 8-byte channel status. The result is
     * the condition code the guest sees: 0 when the chain was started, a negative errno when it was
     * refused (nothing moved).
     */
    public static final int START_IO = 2;

    private VmExit() {
    }
}
