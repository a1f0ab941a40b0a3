package org.hvbench.core.sec;

/** A policy that cannot be compiled or loaded, with the source line (1-based) where known, else 0. */
public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int line;

    public PolicyException(int line, String message) {
        super(line > 0 ? "line " + line + ": " + message : message);
        this.line = line;
    }

    public int line() {
        return line;
    }
}
