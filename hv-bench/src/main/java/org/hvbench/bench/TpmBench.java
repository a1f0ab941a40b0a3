package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.arch.VtpmHost;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.TpmCommands;
import org.hvbench.core.tpm.Vtpm;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What one TPM command costs a guest where its TPM sits ({@code tpm}): {@code tpm-domain}, a vTPM in
 * the TPM domain reached by the split driver (Perez, van Doorn and Sailer, figure 5, right: seven
 * crossings a command), {@code hypervisor}, a vTPM in the hypervisor reached by a hypercall (four),
 * or {@code guest}, the TPM software in the guest's own kernel (the floor: the system call alone, and
 * no isolation from the guest). Commands per second, with {@link OpCounters}
 * (crossings, modelled ns and event-channel notifications per command: two through the TPM domain):
 * <ul>
 * <li>{@code pcrExtend}: one {@code TPM2_PCR_Extend} of a SHA-256 digest into PCR 10.</li>
 * <li>{@code quote}: one {@code TPM2_Quote} of PCRs 0-7 and 17 with a 32-byte nonce, signed by a
 *     restricted ECC P-256 key (ECDSA-SHA256, the JDK's).</li>
 * </ul>
 * Every command must come back {@code TPM_RC_SUCCESS} with a response of the length its kind has, or
 * the iteration fails.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class TpmBench {
    @Param({"tpm-domain", "hypervisor", "guest"})
    public String tpm;

    static final int QUOTED = 0xFF | 1 << 17;
    /** An extend's response: header, parameterSize, one session's acknowledgement. */
    static final int EXTEND_RESPONSE = 10 + 4 + 5;

    private VtpmHost host;
    private Cpu cpu;
    private CoreMeter meter;
    private final byte[] extend = new byte[Vtpm.MAX_BUFFER];
    private final byte[] quote = new byte[Vtpm.MAX_BUFFER];
    private final byte[] response = new byte[Vtpm.MAX_BUFFER];
    private int extendLength;
    private int quoteLength;
    private long commands;
    private long wrong;
    private String lastWrong = "";

    /** Commands per second as a secondary result, and those that went wrong (must stay 0). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Commands {
        public long commands;

        @Setup(Level.Iteration)
        public void clear() {
            commands = 0;
        }
    }

    @Setup(Level.Trial)
    public void boot() {
        host = new VtpmHost(MachineConfig.defaults().memory(64L << 20), VtpmHost.Where.parse(tpm), 1);
        cpu = host.cpu();
        meter = new CoreMeter(new Cpu[] {cpu}, null, null);
        int n = TpmCommands.startup(extend);
        expect(host.command(0, extend, n, 0, response), -1, "TPM2_Startup");
        n = TpmCommands.createPrimary(extend, Tpm2.RH_ENDORSEMENT, true);
        long r = host.command(0, extend, n, 0, response);
        expect(r, -1, "TPM2_CreatePrimary");
        int key;
        try {
            key = TpmCommands.createdHandle(response, (int) r);
        } catch (org.hvbench.core.tpm.TpmException e) {
            throw new IllegalStateException("TpmBench: " + e.getMessage(), e);
        }
        extendLength = TpmCommands.pcrExtend(extend, 10, new byte[32]);
        byte[] nonce = new byte[32];
        for (int i = 0; i < nonce.length; i++) {
            nonce[i] = (byte) (i * 7 + 1);
        }
        quoteLength = TpmCommands.quote(quote, key, nonce, QUOTED);
        if (wrong != 0) {
            throw new IllegalStateException("TpmBench (" + tpm + "): set-up failed: " + lastWrong);
        }
    }

    private void expect(long r, int length, String what) {
        if (r < 10 || TpmCommands.rc(response) != Tpm2.RC_SUCCESS || length >= 0 && r != length) {
            wrong++;
            lastWrong = what + ": " + (r < 0 ? org.hvbench.core.Errno.name(r) : Tpm2.rcName(TpmCommands.rc(response)) + ", " + r + " bytes");
        }
    }

    @Setup(Level.Iteration)
    public void clear() {
        commands = 0;
        wrong = 0;
    }

    @Benchmark
    public long pcrExtend(Commands counters, OpCounters ops) {
        return measured(extend, extendLength, EXTEND_RESPONSE, "TPM2_PCR_Extend", counters, ops);
    }

    @Benchmark
    public long quote(Commands counters, OpCounters ops) {
        return measured(quote, quoteLength, -1, "TPM2_Quote", counters, ops);
    }

    /** One command from the guest's app, counted and checked ({@code expected} length, or -1 for any). */
    private long measured(byte[] command, int length, int expected, String what, Commands counters, OpCounters ops) {
        meter.begin(host.notifications());
        long r = host.command(0, command, length, 0, response);
        meter.end(ops, 1, host.notifications());
        counters.commands++;
        commands++;
        expect(r, expected, what);
        return r;
    }

    /** Points the quote at a key handle that is not loaded (a test's way to make a command fail). */
    void breakQuoteForTest() {
        quote[13] ^= 0x40;
    }

    /** Fails the run unless the iteration ran commands and every one succeeded. */
    @TearDown(Level.Iteration)
    public void check() {
        if (commands == 0 || wrong != 0) {
            throw new IllegalStateException("TpmBench (" + tpm + "): " + commands + " commands, " + wrong + " wrong; last: " + lastWrong);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        host.close();
    }
}
