package org.hvbench.core.tpm;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The toolstack's measurement of a guest before its first instruction: it starts the guest's vTPM
 * and extends, as firmware would, the virtual firmware into PCR 0, the kernel image into PCR 4 and the
 * domain's configuration into PCR 5, then a separator into each of PCRs 0 to 7 (the end of the
 * pre-OS measurements), logging each in the crypto-agile {@link EventLog}. Each extend is a real
 * {@code TPM2_PCR_Extend} command at locality 0 on the instance; replaying the log gives its PCRs.
 */
public final class MeasuredBoot {
    public static final int FIRMWARE_PCR = 0;
    public static final int KERNEL_PCR = 4;
    public static final int CONFIG_PCR = 5;
    static final byte[] FIRMWARE = "hvbench virtual firmware 1.0".getBytes(StandardCharsets.US_ASCII);

    private MeasuredBoot() {
    }

    /**
     * Starts {@code tpm} and measures the boot of a guest with {@code kernel} and {@code config}.
     *
     * @throws IllegalStateException when the instance has run a command already (a measurement after
     *     the guest ran would vouch for nothing) or refuses one
     */
    public static EventLog measure(Vtpm tpm, byte[] kernel, byte[] config) {
        if (tpm.commands() != 0) {
            throw new IllegalStateException("measured boot: the vTPM has run " + tpm.commands() + " commands; measure before the guest runs");
        }
        byte[] cmd = new byte[Vtpm.MAX_BUFFER];
        byte[] rsp = new byte[Vtpm.MAX_BUFFER];
        run(tpm, cmd, TpmCommands.startup(cmd), rsp, "TPM2_Startup");
        EventLog log = new EventLog();
        MessageDigest h = EventLog.sha256();
        extend(tpm, log, FIRMWARE_PCR, EventLog.EV_POST_CODE, h.digest(FIRMWARE), "virtual firmware", cmd, rsp);
        extend(tpm, log, KERNEL_PCR, EventLog.EV_IPL, h.digest(kernel), "kernel image, " + kernel.length + " bytes", cmd, rsp);
        extend(tpm, log, CONFIG_PCR, EventLog.EV_IPL, h.digest(config), "domain configuration, " + config.length + " bytes", cmd, rsp);
        byte[] separator = h.digest(new byte[4]);
        for (int pcr = 0; pcr <= 7; pcr++) {
            extend(tpm, log, pcr, EventLog.EV_SEPARATOR, separator, "", cmd, rsp);
        }
        return log;
    }

    private static void extend(Vtpm tpm, EventLog log, int pcr, int type, byte[] digest, String what, byte[] cmd, byte[] rsp) {
        run(tpm, cmd, TpmCommands.pcrExtend(cmd, pcr, digest), rsp, "TPM2_PCR_Extend of PCR " + pcr);
        log.add(new EventLog.Event(pcr, type, digest, type == EventLog.EV_SEPARATOR ? new byte[4] : what.getBytes(StandardCharsets.UTF_8)));
    }

    private static void run(Vtpm tpm, byte[] cmd, int length, byte[] rsp, String what) {
        tpm.execute(cmd, length, 0, rsp);
        int rc = TpmCommands.rc(rsp);
        if (rc != Tpm2.RC_SUCCESS) {
            throw new IllegalStateException("measured boot: " + what + ": " + Tpm2.rcName(rc));
        }
    }
}
