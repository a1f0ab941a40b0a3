package org.hvbench.core.guest;

import java.util.HashMap;
import java.util.Map;

/**
 * The toolstack's directory where a front end and a back end find each other (Xen's xenstore,
 * reduced to what the block handshake needs): the front end writes its ring's grant reference and
 * its event port under {@code device/vbd/<front domain>/}, the back end reads them to connect, and
 * the toolstack records there which domain serves the front end and in what state its back end is.
 * Set-up and reconnection only; nothing on the data path touches it.
 */
public final class Store {
    /**
     * Where the toolstack keeps the back end's state for a front end (under {@link #vbd}), in
     * XenbusState numbers: the front end reads it when the toolstack tells it that it changed.
     */
    public static final String BACKEND_STATE = "backend-state";
    /** The back end's domain id for a front end (under {@link #vbd}). */
    public static final String BACKEND = "backend";
    /** XenbusStateInitWait: a new back end waits for the front end's ring and event channel. */
    public static final int INIT_WAIT = 2;
    /** XenbusStateInitialised: the front end has written its ring and event channel. */
    public static final int INITIALISED = 3;
    /** XenbusStateConnected: the back end has mapped the ring and bound the event channel. */
    public static final int CONNECTED = 4;
    /** XenbusStateClosed: the back end is gone (its domain was destroyed). */
    public static final int CLOSED = 6;

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

    /** Forgets every value under {@code directory} (the toolstack removes a destroyed domain's devices). */
    public void removeDirectory(String directory) {
        values.keySet().removeIf(k -> k.startsWith(directory));
    }

    public boolean contains(String path) {
        return values.containsKey(path);
    }

    /** The directory of a front end's block device. */
    public static String vbd(int frontDomain) {
        return "device/vbd/" + frontDomain + "/";
    }
}
