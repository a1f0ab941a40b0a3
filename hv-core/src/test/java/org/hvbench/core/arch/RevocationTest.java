package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.Errno;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A policy change against the live bindings of a real I/O partition: a second guest ("tenant") is
 * connected to the back end, and a new policy forbids the partition to share with it. Reject keeps
 * everything; revoke, even with no toolstack to disconnect cleanly, leaves no event channel bound
 * and no grant of the tenant's mapped, the first guest's I/O going on, and the audits passing; and
 * the back end's own teardown afterwards (unmapping revoked handles, closing a revoked port) fails
 * nothing.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RevocationTest {
    private static final String BASE = BasePlacement.PLACEMENT_POLICY.replace("KIND", "chwall+ste")
        + "label tenant ste guests\n";
    private static final String TENANT_ALONE = BASE.replace("ste-types system guests", "ste-types system guests alone")
        .replace("label tenant ste guests", "label tenant ste alone");

    private IoPartitionPlacement p;
    private AccessControlModule acm;
    private InlineExecutor executor;

    @BeforeEach
    void boot() throws PolicyException {
        p = (IoPartitionPlacement) Placement.IO_PARTITION.open(MachineConfig.defaults().memory(64L << 20).diskBytes(1L << 20)
            .mac("chwall-ste"), 4);
        acm = p.accessControl();
        assertEquals(0, acm.load(compile(BASE)));
        executor = new InlineExecutor(p);
        App app = p.app();
        long buffer = app.allocateBuffer(MachineMemory.PAGE_SIZE);
        app.prepare(p.cpu(), 0, Aio.PREAD, 0, buffer, MachineMemory.PAGE_SIZE, 1);
    }

    @AfterEach
    void close() {
        p.machine().close();
    }

    private static Policy compile(String source) throws PolicyException {
        return PolicyCompiler.compile(source);
    }

    private void firstGuestReads() {
        long done = p.app().completed();
        long errors = p.app().errors();
        executor.runBatch(1);
        assertEquals(done + 1, p.app().completed());
        assertEquals(errors, p.app().errors(), "the first guest's read failed");
    }

    @Test
    void rejectKeepsThePolicyAndEveryBinding() throws PolicyException {
        IoPartitionPlacement.Guest t = p.addGuest("tenant", "tenant", "guest", 4, 1024, 512, null);
        Policy before = acm.policy();
        int mapsBefore = p.grantOps().mappingsOf(t.domain.id());
        assertTrue(mapsBefore > 0, "the back end maps the tenant's ring");
        assertEquals(-Errno.EBUSY, acm.load(compile(TENANT_ALONE), AccessControlModule.Mode.REJECT));
        assertSame(before, acm.policy());
        assertEquals(mapsBefore, p.grantOps().mappingsOf(t.domain.id()));
        assertTrue(p.channels().boundBetween(p.partition(), t.domain));
        assertFalse(t.front.detached());
    }

    @Test
    void revokeWithoutAToolstackCutsEveryBindingInTheHypervisorAndTheBackEndsTeardownFailsNothing() throws PolicyException {
        IoPartitionPlacement.Guest t = p.addGuest("tenant", "tenant", "guest", 4, 1024, 512, null);
        acm.setToolstack(null);
        int maps = p.grantOps().mappingsOf(t.domain.id());
        assertEquals(0, acm.load(compile(TENANT_ALONE), AccessControlModule.Mode.REVOKE));
        AccessControlModule.Revocation r = acm.lastRevocation();
        assertEquals(maps, r.revoked("grant mapping"), "every mapping of the tenant's frames");
        assertTrue(r.revoked("event channel") >= 1, r.toString());
        assertEquals(0, r.domainsStopped());
        assertEquals(0, p.grantOps().mappingsOf(t.domain.id()), "nothing of the tenant's stays mapped");
        assertFalse(p.channels().boundBetween(p.partition(), t.domain));
        assertFalse(p.channels().boundBetween(t.domain, p.partition()));
        assertNull(p.hypervisor().audit());
        assertNull(p.grantOps().audit());
        // A send on the revoked port reaches nobody.
        p.cpu().start(t.domain.kernel());
        assertEquals(-Errno.ENOTCONN, p.hypervisor().hypercall(p.cpu(), Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SEND,
            t.front.port(), 0, 0));
        p.cpu().start(p.app().kernel().appContext());
        firstGuestReads();
        // The toolstack catches up: the back end unmaps its revoked handles and closes its port.
        long unmapFailures = p.back().unmapFailures();
        p.detachDisk(t);
        assertEquals(unmapFailures, p.back().unmapFailures(), "unmapping a revoked handle succeeds");
        assertFalse(p.back().connected(t.domain));
        assertEquals(0, p.grantOps().mappings(p.partition()) - p.grantOps().mappingsOf(p.guest().id()),
            "the partition holds only the first guest's mappings");
        assertNull(p.hypervisor().audit());
        assertNull(p.grantOps().audit());
        firstGuestReads();
    }

    @Test
    void aRevokedDecisionIsNotAnsweredFromTheCache() throws PolicyException {
        IoPartitionPlacement.Guest t = p.addGuest("tenant", "tenant", "guest", 4, 1024, 512, null);
        assertTrue(acm.cachedPermit(p.partition().id(), t.domain.id()), "connecting cached the permit");
        assertEquals(0, acm.load(compile(TENANT_ALONE), AccessControlModule.Mode.REVOKE));
        assertFalse(acm.cachedPermit(p.partition().id(), t.domain.id()));
        assertEquals(-Errno.EACCES, acm.grantMap(p.partition(), t.domain));
        assertTrue(t.front.detached(), "the toolstack took the tenant's disk away");
    }
}
