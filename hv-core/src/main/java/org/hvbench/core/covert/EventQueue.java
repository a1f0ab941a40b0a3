package org.hvbench.core.covert;

import java.util.Arrays;

/**
 * The channel timeline's pending events: a binary min-heap of (time, event) pairs in two primitive
 * arrays. Events at the same time come out in the order they were added (a sequence number breaks
 * ties), so a run is deterministic. Single-threaded; grows by doubling.
 */
final class EventQueue {
    private long[] times = new long[64];
    private long[] order = new long[64];
    private int[] events = new int[64];
    private int size;
    private long added;

    void add(long time, int event) {
        if (size == times.length) {
            times = Arrays.copyOf(times, size * 2);
            order = Arrays.copyOf(order, size * 2);
            events = Arrays.copyOf(events, size * 2);
        }
        int i = size++;
        long seq = added++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!before(time, seq, times[parent], order[parent])) {
                break;
            }
            times[i] = times[parent];
            order[i] = order[parent];
            events[i] = events[parent];
            i = parent;
        }
        times[i] = time;
        order[i] = seq;
        events[i] = event;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** The earliest event's time; the queue must not be empty. */
    long peekTime() {
        return times[0];
    }

    /** Removes the earliest event and returns it. */
    int poll() {
        int top = events[0];
        size--;
        if (size > 0) {
            long t = times[size];
            long s = order[size];
            int e = events[size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && before(times[child + 1], order[child + 1], times[child], order[child])) {
                    child++;
                }
                if (!before(times[child], order[child], t, s)) {
                    break;
                }
                times[i] = times[child];
                order[i] = order[child];
                events[i] = events[child];
                i = child;
            }
            times[i] = t;
            order[i] = s;
            events[i] = e;
        }
        return top;
    }

    void clear() {
        size = 0;
        added = 0;
    }

    private static boolean before(long t1, long s1, long t2, long s2) {
        return t1 < t2 || t1 == t2 && s1 < s2;
    }
}
