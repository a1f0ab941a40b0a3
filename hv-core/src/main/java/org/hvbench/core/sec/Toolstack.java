package org.hvbench.core.sec;

import org.hvbench.core.hv.Domain;

/**
 * The toolstack's part of a policy change: it knows the labelled resources its back ends serve
 * (each virtual block device) and how to stop a guest cleanly, which the hypervisor does not. The
 * access-control module calls it while it applies a policy, on the Policy Manager's hypercall,
 * while no other party runs (as the toolstack destroys a guest).
 */
public interface Toolstack {
    /**
     * Resource bindings {@code p} would forbid: front ends connected to a virtual device whose label
     * {@code p} does not let them share, or whose back end's domain {@code p} does not let them
     * share with.
     */
    int violations(Policy p);

    /**
     * {@code p} is active: every resource binding it forbids is torn down cleanly (the back end
     * stops taking requests and lets those on the device finish; the front end's waiting requests
     * end with {@code -EIO} and new ones get {@code -ENODEV}).
     *
     * @return the front ends disconnected
     */
    int revoke(Policy p);

    /**
     * Stops {@code d}, which breaks the active Chinese Wall, the way the toolstack destroys a guest
     * (its back ends told, its store entries gone).
     *
     * @return false when {@code d} is not one of the toolstack's guests (the module then destroys the
     *     domain itself)
     */
    boolean stop(Domain d);
}
