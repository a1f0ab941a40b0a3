package org.hvbench.core.sec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hvbench.core.Errno;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.cpu.Cpu;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The module behind the hypervisor's hooks: STE on sharing, the Chinese Wall on creation, and denials that change nothing. */
class AccessControlModuleTest {
    private Machine machine;
    private Hypervisor hv;
    private Cpu cpu;
    private EventChannels channels;
    private AccessControlModule acm;

    @BeforeEach
    void boot() throws Exception {
        machine = new Machine(MachineConfig.defaults().memory(64L << 20));
        hv = new Hypervisor(machine);
        cpu = machine.newCpu("cpu0");
        hv.attach(cpu);
        channels = new EventChannels(hv);
        acm = new AccessControlModule(PolicyCompiler.compile(PolicyCompilerTest.CUSTOMERS));
        hv.setAccessControl(acm);
    }

    @AfterEach
    void shutdown() {
        machine.close();
    }

    private Domain create(String name, String label) {
        return hv.createDomain(name, label, 1L << 20, false);
    }

    @Test
    void theChineseWallKeepsACompetitorFromRunningUntilTheOtherIsGone() {
        Domain a = create("a", "A");
        Domain c = create("c", "C");
        int before = liveDomains();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> create("b", "B"));
        assertTrue(e.getMessage().contains(Errno.name(-Errno.EACCES)), e.getMessage());
        assertEquals(before, liveDomains(), "a refused creation creates nothing");
        hv.destroyDomain(a);
        Domain b = create("b", "B");
        assertTrue(b.id() > c.id());
        assertEquals(acm.policy().label("B").chwallTypes() | acm.policy().label("C").chwallTypes(), acm.runningTypes());
    }

    @Test
    void aLabelThePolicyDoesNotDefineCannotBeCreated() {
        assertThrows(IllegalStateException.class, () -> create("x", "unlabelled"));
    }

    @Test
    void eventChannelsBetweenCustomersAreRefusedAndLeaveNoPortOpen() {
        Domain a = create("a", "A");
        Domain c = create("c", "C");
        Domain partition = hv.createDomain("partition", "partition", 1L << 20, true);
        assertEquals(-Errno.EACCES, channels.call(cpu, a, Hypercall.EVTCHN_ALLOC_UNBOUND, c.id(), 0, 0));
        assertTrue(!channels.boundBetween(a, c), "no port of a names c");
        // With the partition both customers may bind: it holds all their types.
        long port = channels.call(cpu, partition, Hypercall.EVTCHN_ALLOC_UNBOUND, a.id(), 0, 0);
        assertTrue(port > 0, "partition -> a: " + port);
        long bound = channels.call(cpu, a, Hypercall.EVTCHN_BIND_INTERDOMAIN, partition.id(), port, 0);
        assertTrue(bound > 0, "a binds the partition's port: " + bound);
        // A policy that takes type C from the partition refuses the next bind with c. (This module is
        // only set as the hooks, not installed, so a load does not review live bindings: RevocationTest.)
        long port2 = channels.call(cpu, partition, Hypercall.EVTCHN_ALLOC_UNBOUND, c.id(), 0, 0);
        assertTrue(port2 > 0);
        assertEquals(0, acm.load(partitionWithoutC()));
        assertEquals(-Errno.EACCES, channels.call(cpu, c, Hypercall.EVTCHN_BIND_INTERDOMAIN, partition.id(), port2, 0));
        assertTrue(!channels.boundBetween(c, partition), "the refused bind opened nothing");
    }

    @Test
    void devicesAreSharedOnlyThroughTheirOwnLabel() {
        Domain a = create("a", "A");
        assertEquals(-Errno.EACCES, acm.deviceAssign(a, 7), "an unlabelled device goes to nobody");
        acm.labelDevice(7, "A");
        assertEquals(0, acm.deviceAssign(a, 7));
        acm.labelDevice(8, "C");
        assertEquals(-Errno.EACCES, acm.blockDeviceConnect(a, 8));
    }

    @Test
    void theNullPolicyPermitsEverything() throws Exception {
        acm.load(PolicyCompiler.compile("policy open\nkind null\n"));
        Domain x = create("x", "anything");
        Domain y = create("y", "else");
        assertEquals(0, acm.grantMap(x, y));
        assertEquals(0, acm.deviceAssign(x, 3));
        assertNull(acm.policy().label("anything"));
    }

    private int liveDomains() {
        int n = 0;
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            n += hv.domain(id) != null ? 1 : 0;
        }
        return n;
    }

    private static Policy partitionWithoutC() {
        String source = PolicyCompilerTest.CUSTOMERS.replace("label partition ste A B C", "label partition ste A B");
        try {
            return PolicyCompiler.compile(source);
        } catch (PolicyException e) {
            throw new AssertionError(e);
        }
    }
}
