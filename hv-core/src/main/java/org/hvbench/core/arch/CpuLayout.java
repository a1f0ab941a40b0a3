package org.hvbench.core.arch;

/**
 * How many CPUs a placement's domains run on. The inline executor needs {@link #ONE_CPU}: the
 * uniprocessor of Karger and Safford's analysis, where a notified domain runs at once. The threaded
 * executor uses {@link #CPU_PER_DOMAIN}: the I/O partition (and its emulator) get a CPU of their own,
 * run by a thread of their own, and notifications between domains become inter-processor interrupts.
 * Placements with one domain (native, hypervisor, passthrough, channel programs) have one CPU either way.
 */
public enum CpuLayout {
    ONE_CPU,
    CPU_PER_DOMAIN
}
