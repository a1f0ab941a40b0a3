package org.hvbench.core.hv;

/**
 * The access-control hooks, in the style of Xen's XSM: every operation that lets information flow
 * between domains asks the installed module first, at bind time, never on the data path. Each hook
 * returns 0 to permit or a negative errno ({@code -EACCES}) to refuse. The default module permits
 * everything; a mandatory access-control module (sHype) replaces it through
 * {@link Hypervisor#setAccessControl}.
 */
public interface AccessControl {
    /** The module that permits everything. */
    AccessControl PERMIT_ALL = new AccessControl() {
    };

    /** A domain of this name and label is about to be created. */
    default int domainCreate(String name, String label, boolean privileged) {
        return 0;
    }

    /** Domain {@code d} was created (after {@link #domainCreate} permitted it): a module may count it as running. */
    default void domainCreated(Domain d) {
    }

    /** Domain {@code d} was destroyed: a module forgets it (the Chinese Wall's running set, cached decisions). */
    default void domainDestroyed(Domain d) {
    }

    /** {@code a} opens an unbound event-channel port for {@code b} to bind to. */
    default int eventChannelAllocUnbound(Domain a, Domain b) {
        return 0;
    }

    /** {@code domain} connects to a block device served by the hypervisor (the device is shared with every other client). */
    default int blockDeviceConnect(Domain domain, int deviceId) {
        return 0;
    }

    /** A device is given to {@code domain}: its DMA will reach that domain's memory. */
    default int deviceAssign(Domain domain, int deviceId) {
        return 0;
    }

    /** {@code a} binds an event channel to one of {@code b}'s. */
    default int eventChannelBind(Domain a, Domain b) {
        return 0;
    }

    /** {@code mapper} maps a page that {@code granter} granted it. */
    default int grantMap(Domain mapper, Domain granter) {
        return 0;
    }

    /** {@code caller} has the hypervisor copy to or from a page of {@code other} (granted, or foreign for a privileged caller). */
    default int grantCopy(Domain caller, Domain other) {
        return 0;
    }

    /** Privileged {@code mapper} maps a frame of {@code target} by frame number (a device emulator's foreign mapping). */
    default int foreignMap(Domain mapper, Domain target) {
        return 0;
    }
}
