package org.hvbench.core.tpm;

/**
 * A TPM's quote as it crosses to a verifier: the signed {@code TPMS_ATTEST} (the message) and the
 * {@code TPMT_SIGNATURE} over it, both in the TPM 2.0 wire format, as {@code tpm2_quote} writes them
 * to its message and signature files.
 */
public record Quote(byte[] attest, byte[] signature) {
}
