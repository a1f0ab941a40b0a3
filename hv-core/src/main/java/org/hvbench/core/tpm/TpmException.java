package org.hvbench.core.tpm;

/**
 * A command the TPM refuses, carrying the response code it answers with. Thrown only inside the
 * command's processing and turned into a 10-byte error response there; no stack trace is kept, since
 * a malformed command is ordinary input, not a fault of this program.
 */
public final class TpmException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int rc;

    public TpmException(int rc) {
        super(null, null, false, false);
        this.rc = rc;
    }

    public int rc() {
        return rc;
    }

    @Override
    public String getMessage() {
        return Tpm2.rcName(rc);
    }
}
