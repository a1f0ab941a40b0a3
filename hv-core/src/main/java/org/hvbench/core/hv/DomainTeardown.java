package org.hvbench.core.hv;

/**
 * A subsystem's part of destroying a domain (Xen's {@code domain_relinquish_resources}: event
 * channels closed, grant mappings released): {@link Hypervisor#destroyDomain} calls every registered
 * teardown after the domain has stopped running and before its frames are freed.
 */
@FunctionalInterface
public interface DomainTeardown {
    /**
     * Releases what this subsystem holds for {@code dying} and what other domains hold of it. The
     * domain no longer runs and {@link Hypervisor#domain} no longer finds it.
     */
    void release(Domain dying);
}
