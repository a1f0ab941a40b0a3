package org.hvbench.core.tpm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.interfaces.ECPublicKey;

import org.junit.jupiter.api.Test;

/** A vTPM sealed for another machine: opened there with PCRs and keys intact, once, and only unaltered. */
class VtpmMigrationTest {
    private final byte[] cmd = new byte[Vtpm.MAX_BUFFER];
    private final byte[] rsp = new byte[Vtpm.MAX_BUFFER];

    private ECPublicKey primary(Vtpm t) throws Exception {
        int n = t.execute(cmd, TpmCommands.createPrimary(cmd, Tpm2.RH_ENDORSEMENT, true), 0, rsp);
        assertEquals(Tpm2.RC_SUCCESS, TpmCommands.rc(rsp));
        return TpmCommands.createdKey(rsp, n);
    }

    @Test
    void theImportedVtpmHasThePcrsAndGivesTheSameKeys() throws Exception {
        Vtpm source = new Vtpm();
        MeasuredBoot.measure(source, "kernel".getBytes(), "config".getBytes());
        ECPublicKey before = primary(source);
        VtpmMigration.Destination there = new VtpmMigration.Destination();
        byte[] blob = VtpmMigration.export(source, 7, 1, there.publicKey());
        Vtpm moved = there.importState(blob);
        for (int i = 0; i < Pcrs.COUNT; i++) {
            assertArrayEquals(source.pcrs().value(i), moved.pcrs().value(i), "PCR " + i);
        }
        assertTrue(moved.started(), "a running guest's vTPM keeps running");
        assertEquals(before.getW(), primary(moved).getW(), "the endorsement seed came along: the same attestation key");
        moved.execute(cmd, TpmCommands.pcrExtend(cmd, 10, new byte[32]), 0, rsp);
        assertEquals(Tpm2.RC_SUCCESS, TpmCommands.rc(rsp), "it takes commands");
    }

    @Test
    void aReplayedOrAlteredBlobIsRefused() throws Exception {
        Vtpm source = new Vtpm();
        MeasuredBoot.measure(source, "kernel".getBytes(), "config".getBytes());
        VtpmMigration.Destination there = new VtpmMigration.Destination();
        byte[] blob = VtpmMigration.export(source, 7, 1, there.publicKey());
        byte[] second = VtpmMigration.export(source, 7, 2, there.publicKey());
        for (int at : new int[] {9, 20, VtpmMigration.HEADER + 5, VtpmMigration.HEADER + VtpmMigration.WRAPPED + 3, blob.length / 2, blob.length - 1}) {
            byte[] altered = blob.clone();
            altered[at] ^= 1;
            VtpmMigration.Refused r = assertThrows(VtpmMigration.Refused.class, () -> there.importState(altered), "byte " + at);
            assertTrue(r.getMessage().startsWith("altered"), r.getMessage());
        }
        there.importState(blob);
        VtpmMigration.Refused replay = assertThrows(VtpmMigration.Refused.class, () -> there.importState(blob));
        assertEquals("replayed: instance 7 sequence 1, already took 1", replay.getMessage());
        there.importState(second);
        assertThrows(VtpmMigration.Refused.class, () -> there.importState(blob), "an older blob after a newer one");
        VtpmMigration.Destination elsewhere = new VtpmMigration.Destination();
        assertThrows(VtpmMigration.Refused.class, () -> elsewhere.importState(second), "a blob wrapped to another machine");
        assertThrows(VtpmMigration.Refused.class, () -> there.importState(new byte[10]));
    }
}
