package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.security.interfaces.ECPublicKey;
import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.TpmFront;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.tpm.Quote;
import org.hvbench.core.tpm.QuoteVerifier;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.TpmCommands;
import org.hvbench.core.tpm.Vtpm;
import org.junit.jupiter.api.Test;

/** Guests' TPM commands through tpmfront, the TPM domain's back end and each guest's own vTPM. */
class VtpmHostTest {
    private final byte[] cmd = new byte[Vtpm.MAX_BUFFER];
    private final byte[] rsp = new byte[Vtpm.MAX_BUFFER];

    private static MachineConfig config() {
        return MachineConfig.defaults().memory(64L << 20);
    }

    private long ok(VtpmHost h, int guest, int length) {
        long n = h.command(guest, cmd, length, 0, rsp);
        assertTrue(n >= 10, () -> "guest " + guest + ": " + n);
        assertEquals(Tpm2.RC_SUCCESS, TpmCommands.rc(rsp), () -> Tpm2.rcName(TpmCommands.rc(rsp)));
        return n;
    }

    /** The crossings of one successful command of guest 0, the {@code length} bytes in {@link #cmd}. */
    private List<Crossing> crossingsOf(VtpmHost h, int length) {
        CrossingTrace t = h.trace();
        t.reset();
        t.startRecording();
        ok(h, 0, length);
        t.stopRecording();
        List<Crossing> k = new ArrayList<>();
        for (int i = 0; i < t.size(); i++) {
            k.add(t.kind(i));
        }
        return k;
    }

    @Test
    void oneCommandThroughTheTpmDomainCrossesAsTheSplitDriverSays() {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.TPM_DOMAIN, 1)) {
            ok(h, 0, TpmCommands.startup(cmd));
            List<Crossing> crossings = crossingsOf(h, TpmCommands.pcrExtend(cmd, 10, new byte[32]));
            // The guest's event send enters the TPM domain at once (the hypervisor delivers on the way out of
            // the hypercall); its answer resumes the guest's kernel and raises its upcall there.
            assertEquals(List.of(Crossing.SYSCALL, Crossing.HYPERCALL, Crossing.VIRQ, Crossing.HYPERCALL, Crossing.VMENTRY, Crossing.VIRQ,
                Crossing.SYSRET), crossings, "one command");
            assertEquals(2, h.back().served());
        }
    }

    @Test
    void inTheGuestACommandIsOnlyTheSystemCall() {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.GUEST, 1)) {
            ok(h, 0, TpmCommands.startup(cmd));
            assertEquals(List.of(Crossing.SYSCALL, Crossing.SYSRET), crossingsOf(h, TpmCommands.pcrExtend(cmd, 10, new byte[32])));
        }
    }

    @Test
    void inTheHypervisorACommandIsOneHypercallAndAGuestHasOnlyLocalityZero() {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.HYPERVISOR, 2)) {
            ok(h, 0, TpmCommands.startup(cmd));
            ok(h, 1, TpmCommands.startup(cmd));
            assertEquals(List.of(Crossing.SYSCALL, Crossing.HYPERCALL, Crossing.VMENTRY, Crossing.SYSRET),
                crossingsOf(h, TpmCommands.pcrExtend(cmd, 10, new byte[32])));
            assertTrue(!java.util.Arrays.equals(new byte[32], h.vtpm(0).pcrs().value(10)));
            assertArrayEquals(new byte[32], h.vtpm(1).pcrs().value(10), "guest 1's vTPM is its own");
            assertEquals(10, h.command(0, cmd, TpmCommands.pcrExtend(cmd, 17, new byte[32]), 3, rsp));
            assertEquals(Tpm2.RC_LOCALITY, TpmCommands.rc(rsp));
            h.cpu().start(h.guest(0).kernel());
            assertEquals(-org.hvbench.core.Errno.EINVAL, h.hypervisor().hypercall(h.cpu(), org.hvbench.core.hv.Hypercall.TPM_OP, 4096 + 8, 12, 0, 0),
                "a command page that is not page-aligned");
        }
    }

    @Test
    void eachGuestReachesOnlyItsOwnVtpmAndAQuoteThroughTheSplitDriverVerifies() throws Exception {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.TPM_DOMAIN, 3)) {
            for (int g = 0; g < 3; g++) {
                ok(h, g, TpmCommands.startup(cmd));
            }
            byte[] d = MessageDigest.getInstance("SHA-256").digest("guest 1's kernel".getBytes());
            ok(h, 1, TpmCommands.pcrExtend(cmd, 4, d));
            assertArrayEquals(new byte[32], h.vtpm(0).pcrs().value(4), "guest 0's PCR 4");
            assertArrayEquals(new byte[32], h.vtpm(2).pcrs().value(4), "guest 2's PCR 4");
            assertTrue(!java.util.Arrays.equals(new byte[32], h.vtpm(1).pcrs().value(4)));

            int n = (int) ok(h, 1, TpmCommands.createPrimary(cmd, Tpm2.RH_ENDORSEMENT, true));
            int key = TpmCommands.createdHandle(rsp, n);
            ECPublicKey pub = TpmCommands.createdKey(rsp, n);
            byte[] nonce = "a verifier's nonce".getBytes();
            n = (int) ok(h, 1, TpmCommands.quote(cmd, key, nonce, 1 << 4 | 1 << 17));
            Quote q = TpmCommands.quoteOf(rsp, n);
            byte[][] values = {h.vtpm(1).pcrs().value(4), h.vtpm(1).pcrs().value(17)};
            QuoteVerifier.Result r = QuoteVerifier.verify(pub, q, nonce, 1 << 4 | 1 << 17, values);
            assertTrue(r.valid(), r.reason());
            assertTrue(!QuoteVerifier.verify(pub, q, nonce, 1 << 4 | 1 << 17,
                new byte[][] {h.vtpm(0).pcrs().value(4), h.vtpm(0).pcrs().value(17)}).valid(), "guest 0's PCRs are not guest 1's");
        }
    }

    @Test
    void aGuestCannotClaimTheProcessorsLocalityThroughTheBackEnd() {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.TPM_DOMAIN, 1)) {
            ok(h, 0, TpmCommands.startup(cmd));
            byte[] before = h.vtpm(0).pcrs().value(17);
            for (int locality = 1; locality <= 4; locality++) {
                long n = h.command(0, cmd, TpmCommands.pcrReset(cmd, 17), locality, rsp);
                assertEquals(10, n);
                assertEquals(Tpm2.RC_LOCALITY, TpmCommands.rc(rsp), "locality " + locality + " is above the guest's");
            }
            assertArrayEquals(before, h.vtpm(0).pcrs().value(17));
            assertEquals(4, h.back().refused());
        }
    }

    @Test
    void aLengthPastThePageIsAnsweredWithoutReachingTheVtpm() {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.TPM_DOMAIN, 1)) {
            ok(h, 0, TpmCommands.startup(cmd));
            long commands = h.vtpm(0).commands();
            // The guest's kernel writes a length its page cannot hold, behind its driver's back, and kicks the back end.
            TpmFront f = h.front(0);
            org.hvbench.core.cpu.Cpu cpu = h.cpu();
            cpu.start(h.guest(0).kernel());
            long ma = cpu.translate(h.guest(0).space(), f.pageGpa(), Translation.READ | Translation.WRITE);
            org.hvbench.core.mem.MachineMemory m = cpu.memory();
            m.putInt(ma + TpmFront.LENGTH, TpmFront.MAX_PACKET + 1);
            m.putIntRelease(ma + TpmFront.STATE, TpmFront.STATE_SUBMIT);
            assertEquals(0, h.hypervisor().hypercall(cpu, org.hvbench.core.hv.Hypercall.EVENT_CHANNEL_OP,
                org.hvbench.core.hv.Hypercall.EVTCHN_SEND, f.port(), 0, 0));
            for (int i = 0; i < VtpmHost.MAX_ROUNDS && (m.getIntAcquire(ma + TpmFront.STATE) & 0xFF) != TpmFront.STATE_FINISH; i++) {
                cpu.deliverInterrupts();
            }
            assertEquals(TpmFront.STATE_FINISH, m.getIntAcquire(ma + TpmFront.STATE) & 0xFF);
            assertEquals(10, m.getInt(ma + TpmFront.LENGTH));
            m.getBytes(ma + TpmFront.EXTRA_PAGES, rsp, 0, 10);
            assertEquals(Tpm2.RC_COMMAND_SIZE, TpmCommands.rc(rsp));
            assertEquals(1, h.back().refused());
            assertEquals(commands, h.vtpm(0).commands(), "the refused packet never reached the vTPM");
        }
    }

    @Test
    void thePacketTooLargeForThePageIsRefusedByTheFrontEnd() {
        try (VtpmHost h = new VtpmHost(config(), VtpmHost.Where.TPM_DOMAIN, 1)) {
            byte[] big = new byte[TpmFront.MAX_PACKET + 1];
            assertEquals(-org.hvbench.core.Errno.E2BIG, h.command(0, big, big.length, 0, rsp));
        }
    }

    private static TpmFront frontOf(VtpmHost h) {
        return h.front(0);
    }

    private static long pageGpa(VtpmHost h) {
        return h.front(0).pageGpa();
    }
}
