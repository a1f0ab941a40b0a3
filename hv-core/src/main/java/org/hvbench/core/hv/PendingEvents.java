package org.hvbench.core.hv;

/**
 * Event work that senders on any CPU leave for a domain's own vCPU (the FIFO queues' inbox): the
 * hypervisor does it on that vCPU's CPU, before its kernel looks at its events, so that one thread
 * alone does it.
 */
@FunctionalInterface
public interface PendingEvents {
    /** Runs on the domain's own CPU's thread, never on two threads at once. */
    void drain();
}
