package org.hvbench.core.tpm;

/**
 * The TPM 2.0 numbers this package speaks, from the TCG's <i>TPM 2.0 Library, Part 2: Structures</i>
 * (the section of each group is named) and, for localities and the PCRs' attributes, the <i>PC Client
 * Platform TPM Profile</i>. Every value is on the wire big-endian.
 */
public final class Tpm2 {
    private Tpm2() {
    }

    // 6.9 TPM_ST: structure tags.
    public static final int ST_RSP_COMMAND = 0x00C4;
    public static final int ST_NULL = 0x8000;
    public static final int ST_NO_SESSIONS = 0x8001;
    public static final int ST_SESSIONS = 0x8002;
    public static final int ST_ATTEST_QUOTE = 0x8018;
    public static final int ST_CREATION = 0x8021;

    // 6.5.2 TPM_CC: command codes.
    public static final int CC_CREATE_PRIMARY = 0x0131;
    public static final int CC_STARTUP = 0x0144;
    public static final int CC_SHUTDOWN = 0x0145;
    public static final int CC_QUOTE = 0x0158;
    public static final int CC_FLUSH_CONTEXT = 0x0165;
    public static final int CC_GET_RANDOM = 0x017B;
    public static final int CC_PCR_READ = 0x017E;
    public static final int CC_PCR_EXTEND = 0x0182;
    public static final int CC_PCR_RESET = 0x013D;

    // 6.8 TPM_SU: startup types.
    public static final int SU_CLEAR = 0x0000;
    public static final int SU_STATE = 0x0001;

    // 6.3 TPM_ALG_ID.
    public static final int ALG_SHA1 = 0x0004;
    public static final int ALG_SHA256 = 0x000B;
    public static final int ALG_NULL = 0x0010;
    public static final int ALG_ECDSA = 0x0018;
    public static final int ALG_ECC = 0x0023;
    // 6.4 TPM_ECC_CURVE.
    public static final int ECC_NIST_P256 = 0x0003;

    // 6.2 TPM_GENERATED: the magic at the head of every structure the TPM signs.
    public static final int GENERATED_VALUE = 0xFF544347;

    // 7 TPM_HANDLE ranges and 7.4 TPM_RH: permanent handles.
    public static final int HT_TRANSIENT = 0x80;
    public static final int TRANSIENT_FIRST = 0x80000000;
    public static final int RH_OWNER = 0x40000001;
    public static final int RH_NULL = 0x40000007;
    public static final int RS_PW = 0x40000009;
    public static final int RH_ENDORSEMENT = 0x4000000B;
    public static final int RH_PLATFORM = 0x4000000C;

    // 8.3 TPMA_OBJECT bits.
    public static final int OA_FIXED_TPM = 1 << 1;
    public static final int OA_FIXED_PARENT = 1 << 4;
    public static final int OA_SENSITIVE_DATA_ORIGIN = 1 << 5;
    public static final int OA_USER_WITH_AUTH = 1 << 6;
    public static final int OA_RESTRICTED = 1 << 16;
    public static final int OA_DECRYPT = 1 << 17;
    public static final int OA_SIGN = 1 << 18;

    // 8.4 TPMA_SESSION: continueSession.
    public static final int SESSION_CONTINUE = 0x01;

    // 6.6 TPM_RC: response codes. Format zero (version 1) ...
    public static final int RC_SUCCESS = 0x000;
    public static final int RC_BAD_TAG = 0x01E;
    public static final int RC_INITIALIZE = 0x100;
    public static final int RC_FAILURE = 0x101;
    public static final int RC_AUTH_MISSING = 0x125;
    public static final int RC_COMMAND_SIZE = 0x142;
    public static final int RC_COMMAND_CODE = 0x143;
    public static final int RC_AUTHSIZE = 0x144;
    public static final int RC_AUTH_CONTEXT = 0x145;
    // ... format one, which carries the number of the handle, parameter or session at fault ...
    public static final int RC_FMT1 = 0x080;
    public static final int RC_ATTRIBUTES = 0x082;
    public static final int RC_HASH = 0x083;
    public static final int RC_VALUE = 0x084;
    public static final int RC_HIERARCHY = 0x085;
    public static final int RC_TYPE = 0x08A;
    public static final int RC_HANDLE = 0x08B;
    public static final int RC_KDF = 0x08C;
    public static final int RC_AUTH_FAIL = 0x08E;
    public static final int RC_SCHEME = 0x092;
    public static final int RC_SIZE = 0x095;
    public static final int RC_SYMMETRIC = 0x096;
    public static final int RC_TAG = 0x097;
    public static final int RC_INSUFFICIENT = 0x09A;
    public static final int RC_KEY = 0x09C;
    public static final int RC_BAD_AUTH = 0x0A2;
    public static final int RC_CURVE = 0x0A6;
    public static final int RC_P = 0x040;
    public static final int RC_S = 0x800;
    public static final int RC_1 = 0x100;
    // ... and warnings.
    public static final int RC_OBJECT_MEMORY = 0x902;
    public static final int RC_LOCALITY = 0x907;

    /** A format-one code about handle {@code n} (1 to 7). */
    public static int handleError(int rc, int n) {
        return rc | n * RC_1;
    }

    /** A format-one code about parameter {@code n} (1 to 15). */
    public static int parameterError(int rc, int n) {
        return rc | RC_P | n * RC_1;
    }

    /** A format-one code about session {@code n} (1 to 7). */
    public static int sessionError(int rc, int n) {
        return rc | RC_S | n * RC_1;
    }

    /** The response code without the handle, parameter or session it names. */
    public static int base(int rc) {
        return (rc & RC_FMT1) != 0 ? rc & 0x0BF : rc;
    }

    /** A name for a response code, for messages and logs ("TPM_RC_LOCALITY", "TPM_RC_VALUE + parameter 1"). */
    public static String rcName(int rc) {
        String where = "";
        if ((rc & RC_FMT1) != 0 && (rc & 0xF00) != 0) {
            int n = (rc >> 8) & 0xF;
            where = (rc & RC_P) != 0 ? " + parameter " + n : (n & 8) != 0 ? " + session " + (n & 7) : " + handle " + n;
        }
        String name;
        switch (base(rc)) {
            case RC_SUCCESS: name = "TPM_RC_SUCCESS"; break;
            case RC_BAD_TAG: name = "TPM_RC_BAD_TAG"; break;
            case RC_INITIALIZE: name = "TPM_RC_INITIALIZE"; break;
            case RC_FAILURE: name = "TPM_RC_FAILURE"; break;
            case RC_AUTH_MISSING: name = "TPM_RC_AUTH_MISSING"; break;
            case RC_COMMAND_SIZE: name = "TPM_RC_COMMAND_SIZE"; break;
            case RC_COMMAND_CODE: name = "TPM_RC_COMMAND_CODE"; break;
            case RC_AUTHSIZE: name = "TPM_RC_AUTHSIZE"; break;
            case RC_AUTH_CONTEXT: name = "TPM_RC_AUTH_CONTEXT"; break;
            case RC_ATTRIBUTES: name = "TPM_RC_ATTRIBUTES"; break;
            case RC_HASH: name = "TPM_RC_HASH"; break;
            case RC_VALUE: name = "TPM_RC_VALUE"; break;
            case RC_HIERARCHY: name = "TPM_RC_HIERARCHY"; break;
            case RC_TYPE: name = "TPM_RC_TYPE"; break;
            case RC_HANDLE: name = "TPM_RC_HANDLE"; break;
            case RC_KDF: name = "TPM_RC_KDF"; break;
            case RC_AUTH_FAIL: name = "TPM_RC_AUTH_FAIL"; break;
            case RC_SCHEME: name = "TPM_RC_SCHEME"; break;
            case RC_SIZE: name = "TPM_RC_SIZE"; break;
            case RC_SYMMETRIC: name = "TPM_RC_SYMMETRIC"; break;
            case RC_TAG: name = "TPM_RC_TAG"; break;
            case RC_INSUFFICIENT: name = "TPM_RC_INSUFFICIENT"; break;
            case RC_KEY: name = "TPM_RC_KEY"; break;
            case RC_BAD_AUTH: name = "TPM_RC_BAD_AUTH"; break;
            case RC_CURVE: name = "TPM_RC_CURVE"; break;
            case RC_OBJECT_MEMORY: name = "TPM_RC_OBJECT_MEMORY"; break;
            case RC_LOCALITY: name = "TPM_RC_LOCALITY"; break;
            default: name = String.format("TPM_RC 0x%03X", base(rc));
        }
        return name + where;
    }
}
