package org.hvbench.core.cpu;

/** Where code runs. The paper draws these as rings: user (3), kernel (virtual 0), hypervisor (real 0). */
public enum PrivilegeLevel {
    /** An application or a user-space device emulator (ring 3). */
    USER,
    /** A native kernel, a guest kernel or a partition kernel (ring 0, or virtual ring 0 in a guest). */
    KERNEL,
    /** The hypervisor (real ring 0, or VMX root mode). */
    HYPERVISOR,
    /** A device: the far end of a start-I/O and the source of an interrupt. */
    DEVICE
}
