package org.hvbench.core.cpu;

/**
 * Counts crossings by kind, counts idle switches apart, and, while recording, keeps the numbered
 * list of crossings that the trace CLI prints and the tests compare with DESIGN section 6.
 *
 * <p>Recording stores references in preallocated arrays (the descriptions are string constants of
 * the call sites), so it allocates nothing; when the list is full, later crossings are still
 * counted and {@link #dropped()} says how many were not listed. Single-owner: one CPU writes it.
 */
public final class CrossingTrace {
    private final long[] byKind = new long[Crossing.count()];
    private final Crossing[] kinds;
    private final Context[] froms;
    private final Context[] tos;
    private final String[] whats;
    private boolean recording;
    private int size;
    private long total;
    private long idleSwitches;
    private long dropped;

    /** @param capacity how many crossings the list keeps while recording */
    public CrossingTrace(int capacity) {
        this.kinds = new Crossing[capacity];
        this.froms = new Context[capacity];
        this.tos = new Context[capacity];
        this.whats = new String[capacity];
    }

    void record(Crossing kind, Context from, Context to, String what) {
        byKind[kind.ordinal()]++;
        total++;
        if (recording) {
            if (size < kinds.length) {
                kinds[size] = kind;
                froms[size] = from;
                tos[size] = to;
                whats[size] = what;
                size++;
            } else {
                dropped++;
            }
        }
    }

    void recordIdleSwitch() {
        idleSwitches++;
    }

    /** Starts keeping the list, emptied; counters are kept. */
    public void startRecording() {
        clearList();
        recording = true;
    }

    public void stopRecording() {
        recording = false;
    }

    /** Empties the list and zeroes every counter. */
    public void reset() {
        clearList();
        java.util.Arrays.fill(byKind, 0);
        total = 0;
        idleSwitches = 0;
    }

    private void clearList() {
        java.util.Arrays.fill(froms, 0, size, null);
        java.util.Arrays.fill(tos, 0, size, null);
        size = 0;
        dropped = 0;
    }

    public long total() {
        return total;
    }

    public long count(Crossing kind) {
        return byKind[kind.ordinal()];
    }

    public long idleSwitches() {
        return idleSwitches;
    }

    /** Number of crossings in the list. */
    public int size() {
        return size;
    }

    public long dropped() {
        return dropped;
    }

    public Crossing kind(int i) {
        check(i);
        return kinds[i];
    }

    public Context from(int i) {
        check(i);
        return froms[i];
    }

    public Context to(int i) {
        check(i);
        return tos[i];
    }

    public String what(int i) {
        check(i);
        return whats[i];
    }

    private void check(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("crossing " + i + " of " + size);
        }
    }
}
