package org.hvbench.core.tpm;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;

/**
 * The remote verifier's check of a quote, the one {@code tpm2_checkquote} makes and two more: the
 * ECDSA signature over the message verifies under the attestation key; the message is a
 * {@code TPMS_ATTEST} with the magic {@code TPM_GENERATED_VALUE} and the type
 * {@code TPM_ST_ATTEST_QUOTE} (so it was made by the TPM and is a quote, not some other signed
 * structure); it carries the verifier's nonce; its PCR selection is the one asked for; its PCR digest
 * is the hash of the PCR values the verifier was given; and nothing follows it.
 */
public final class QuoteVerifier {
    private QuoteVerifier() {
    }

    /** The verdict: {@code valid}, or the first check that failed. */
    public record Result(boolean valid, String reason) {
        static final Result OK = new Result(true, "valid");

        static Result refused(String why) {
            return new Result(false, why);
        }
    }

    /**
     * @param pcrMask the PCRs the verifier asked for (bit i = PCR i, the SHA-256 bank)
     * @param pcrValues their values as the attester reported them, in PCR order
     */
    public static Result verify(ECPublicKey key, Quote quote, byte[] nonce, int pcrMask, byte[][] pcrValues) {
        try {
            TpmBuffer s = new TpmBuffer(quote.signature(), 0, quote.signature().length);
            if (s.u16() != Tpm2.ALG_ECDSA || s.u16() != Tpm2.ALG_SHA256) {
                return Result.refused("the signature is not ECDSA with SHA-256");
            }
            byte[] rs = new byte[2 * Ecc.COORDINATE_BYTES];
            int r = s.tpm2b(Ecc.COORDINATE_BYTES);
            System.arraycopy(quote.signature(), s.position() - r, rs, Ecc.COORDINATE_BYTES - r, r);
            int sl = s.tpm2b(Ecc.COORDINATE_BYTES);
            System.arraycopy(quote.signature(), s.position() - sl, rs, rs.length - sl, sl);
            if (s.remaining() != 0) {
                return Result.refused("bytes follow the signature");
            }
            Signature ecdsa = Signature.getInstance("SHA256withECDSAinP1363Format");
            ecdsa.initVerify(key);
            ecdsa.update(quote.attest());
            if (!ecdsa.verify(rs)) {
                return Result.refused("the signature does not verify under the attestation key");
            }

            TpmBuffer a = new TpmBuffer(quote.attest(), 0, quote.attest().length);
            if (a.u32() != Tpm2.GENERATED_VALUE) {
                return Result.refused("the magic is not TPM_GENERATED_VALUE");
            }
            if (a.u16() != Tpm2.ST_ATTEST_QUOTE) {
                return Result.refused("the type is not TPM_ST_ATTEST_QUOTE");
            }
            a.tpm2b(2 + Pcrs.DIGEST_BYTES);
            int n = a.tpm2b(Vtpm.MAX_DATA);
            if (!MessageDigest.isEqual(java.util.Arrays.copyOfRange(quote.attest(), a.position() - n, a.position()), nonce)) {
                return Result.refused("the qualifying data is not the verifier's nonce");
            }
            a.skip(8 + 4 + 4 + 1 + 8);
            if (a.u32() != 1 || a.u16() != Tpm2.ALG_SHA256 || a.u8() != 3) {
                return Result.refused("the PCR selection is not one SHA-256 bank of 24 PCRs");
            }
            int mask = a.u8() | a.u8() << 8 | a.u8() << 16;
            if (mask != (pcrMask & 0xFF_FFFF)) {
                return Result.refused(String.format("the quote selects PCRs %06x, the verifier asked for %06x", mask, pcrMask));
            }
            int d = a.tpm2b(Pcrs.DIGEST_BYTES);
            byte[] quoted = java.util.Arrays.copyOfRange(quote.attest(), a.position() - d, a.position());
            if (a.remaining() != 0) {
                return Result.refused("bytes follow the TPMS_ATTEST");
            }
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            int given = 0;
            for (int i = 0; i < Pcrs.COUNT; i++) {
                if ((mask & 1 << i) != 0) {
                    if (given >= pcrValues.length || pcrValues[given].length != Pcrs.DIGEST_BYTES) {
                        return Result.refused("fewer PCR values than the selection has PCRs");
                    }
                    sha256.update(pcrValues[given++]);
                }
            }
            if (given != pcrValues.length) {
                return Result.refused("more PCR values than the selection has PCRs");
            }
            if (!MessageDigest.isEqual(sha256.digest(), quoted)) {
                return Result.refused("the PCR values do not hash to the quoted digest");
            }
            return Result.OK;
        } catch (TpmException e) {
            return Result.refused("malformed: " + e.getMessage());
        } catch (GeneralSecurityException e) {
            return Result.refused("the key or signature is not usable: " + e.getMessage());
        }
    }
}
