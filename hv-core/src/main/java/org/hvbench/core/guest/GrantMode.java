package org.hvbench.core.guest;

import java.util.Locale;

/**
 * How the side that serves I/O (a back end, an emulator) reaches the requesting guest's pages; the
 * measured difference between these is what Xen's persistent grants are about.
 */
public enum GrantMode {
    /** Map each page for the request and unmap it after, with the TLB shoot-down that costs. */
    MAP("map"),
    /** Have the hypervisor copy between the guest's pages and the server's own buffers. */
    COPY("copy"),
    /** Map a pool of pages once and keep them; the guest copies its data in and out of the pool. */
    PERSISTENT("persistent");

    private final String id;

    GrantMode(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** @throws IllegalArgumentException naming the setting {@code grantMode} and the allowed values */
    public static GrantMode parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (GrantMode m : values()) {
            if (m.id.equals(n)) {
                return m;
            }
        }
        throw new IllegalArgumentException("grantMode: '" + name + "' is unknown; use map, copy or persistent");
    }

    @Override
    public String toString() {
        return id;
    }
}
