package org.hvbench.core.hv;

/**
 * What a hypervisor service has bound between two domains (event channels, grant mappings): the
 * access-control module walks these when a new policy arrives, to find what it would forbid, and
 * revokes through them. Set-up and policy changes only, never a data path; called while the
 * toolstack keeps the domains from binding (Xen holds its domain locks for this).
 */
public interface Bindings {
    /** Receives one binding: domain {@code a} holds something that reaches domain {@code b}. */
    @FunctionalInterface
    interface Visitor {
        void binding(Domain a, Domain b);
    }

    /** What the bindings are, for messages ("event channel", "grant mapping"). */
    String kind();

    /** Calls {@code v} once for every live binding between two distinct live domains. */
    void forEach(Visitor v);

    /**
     * Tears down every binding between {@code a} and {@code b}, either way round, so that nothing of
     * one reaches the other through this service any more; what each domain holds stays its own to
     * close (its later close succeeds and changes nothing else).
     *
     * @return how many were torn down
     */
    int revoke(Domain a, Domain b);
}
