package org.hvbench.core.guest;

/**
 * What a back end sees of each request it starts, handed to whoever the driver domain's owner put
 * there: the front end's domain, the operation, the sector of the front end's virtual disk and the
 * length. A hostile driver domain's traffic-flow analysis starts here; it sees nothing of the data.
 */
@FunctionalInterface
public interface RequestObserver {
    /** @param operation {@code BLKIF_OP_*} of {@code io/blkif.h} */
    void observe(int frontDomain, int operation, long sector, int bytes);
}
