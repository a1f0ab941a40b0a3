package org.hvbench.core.cpu;

/**
 * The kinds of crossing: transfers of control into another context that do work for an I/O
 * (DESIGN section 3). A context that gives up the CPU because it has nothing to do is not a
 * crossing; {@link CrossingTrace#idleSwitches()} counts those apart.
 */
public enum Crossing {
    /** An application enters its kernel. */
    SYSCALL,
    /** A kernel returns to the application that called it. */
    SYSRET,
    /** A paravirtual kernel calls the hypervisor. */
    HYPERCALL,
    /** A deprivileged kernel executes a privileged instruction (start I/O) and traps to the hypervisor. */
    VMEXIT,
    /** The hypervisor resumes a guest kernel. */
    VMENTRY,
    /** The hypervisor delivers a virtual interrupt or event to a kernel. */
    VIRQ,
    /** A kernel wakes or signals one of its user processes. */
    UPCALL,
    /** Software starts the device (a doorbell write). */
    DEVICE_START,
    /** The device interrupts a kernel or the hypervisor. */
    DEVICE_IRQ;

    private static final Crossing[] VALUES = values();

    public static Crossing of(int ordinal) {
        return VALUES[ordinal];
    }

    public static int count() {
        return VALUES.length;
    }
}
