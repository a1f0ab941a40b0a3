package org.hvbench.core.guest;

import java.util.HashMap;
import java.util.Map;

/**
 * The toolstack's directory where a front end and a back end find each other (Xen's xenstore,
 * reduced to what the block handshake needs): the front end writes its ring's grant reference and
 * its event port under {@code device/vbd/<front domain>/}, the back end reads them to connect.
 * Set-up only; nothing on the data path touches it.
 */
public final class Store {
    private final Map<String, Long> values = new HashMap<>();

    public void write(String path, long value) {
        values.put(path, value);
    }

    /** @throws IllegalStateException when nothing was written at {@code path} */
    public long read(String path) {
        Long v = values.get(path);
        if (v == null) {
            throw new IllegalStateException("store: nothing at " + path);
        }
        return v;
    }

    public boolean contains(String path) {
        return values.containsKey(path);
    }

    /** The directory of a front end's block device. */
    public static String vbd(int frontDomain) {
        return "device/vbd/" + frontDomain + "/";
    }
}
