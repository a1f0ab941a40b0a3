package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.BinaryPolicy;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;
import org.junit.jupiter.api.Timeout;

/**
 * The Policy Manager's {@code XSM_OP} hypercall, which the hypervisor parses from guest memory: any
 * bytes as a policy (and mutations of a valid one), any length and address, from the Policy Manager
 * and from another domain, with any policy-change mode, reads of the active policy into buffers of
 * any size, and resource decisions on any label bytes for any domain id.
 *
 * <p>After every call: no exception escaped; the result is 0 or one of the errnos the call documents;
 * a policy is active after a 0 exactly when the call gave one that decodes, and it is that one; after
 * an error the active policy is the one before, untouched; another domain gets {@code -EPERM} and
 * changes nothing; a read returns the active policy's exact bytes or {@code -ENOSPC}; a mode other
 * than reject (0) or revoke (1) is {@code -EINVAL}; a resource decision is the policy's answer for the
 * domain's label and the label given, or {@code -EINVAL}, {@code -EFAULT}, {@code -ENOENT}.
 *
 * <p>{@code mvn verify} replays the committed inputs. To fuzz: {@code scripts/fuzz.sh policy}.
 */
class PolicyFuzzTest {
    static final int RAW = 0;
    static final int MUTATE = 1;
    static final int OTHER = 2;
    static final int READ = 3;
    static final int RESOURCE = 4;
    static final int ACTIONS = 5;
    private static final int BUFFER_PAGES = 4;
    private static final Set<Long> ERRNOS = Set.of((long) -Errno.EINVAL, (long) -Errno.EFAULT, (long) -Errno.EBUSY);
    static final String SOURCE = String.join("\n", "policy fuzz", "kind chwall+ste", "ste-types dom0 A B", "chwall-types A B",
        "conflict A B", "label dom0 ste dom0 A B", "label pm ste dom0", "label A ste A chwall A", "label B ste B chwall B", "");

    private static Fixture fixture;

    private static final class Fixture {
        final Machine machine = new Machine(MachineConfig.defaults().memory(32L << 20));
        final Hypervisor hv = new Hypervisor(machine);
        final Cpu cpu = machine.newCpu("cpu0");
        final Domain pm;
        final Domain other;
        final long pmBuffer;
        final long otherBuffer;
        final DomainMemory pmMemory;
        final DomainMemory otherMemory;
        final AccessControlModule acm;
        final byte[] valid;

        Fixture() throws PolicyException {
            hv.attach(cpu);
            Policy base = PolicyCompiler.compile(SOURCE);
            acm = new AccessControlModule(base);
            pm = hv.createDomain("policy-manager", "pm", 1L << 20, false);
            other = hv.createDomain("guest-a", "A", 1L << 20, false);
            acm.install(hv, pm);
            pmMemory = new DomainMemory(pm, machine.memory());
            otherMemory = new DomainMemory(other, machine.memory());
            pmBuffer = pmMemory.allocate(BUFFER_PAGES);
            otherBuffer = otherMemory.allocate(BUFFER_PAGES);
            valid = BinaryPolicy.encode(PolicyCompiler.compile(SOURCE.replace("policy fuzz", "policy second")));
        }

        long call(Domain caller, long cmd, long a1, long a2) {
            return call(caller, cmd, a1, a2, 0);
        }

        long call(Domain caller, long cmd, long a1, long a2, long a3) {
            cpu.start(caller.kernel());
            return hv.hypercall(cpu, Hypercall.XSM_OP, cmd, a1, a2, a3);
        }
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void thePolicyManagersHypercallTakesAnyBytesAndLoadsOnlyAValidPolicy(byte[] input) throws PolicyException {
        if (fixture == null) {
            fixture = new Fixture();
        }
        Fixture f = fixture;
        FuzzInput in = new FuzzInput(input);
        while (in.more()) {
            int action = in.below(ACTIONS);
            Policy before = f.acm.policy();
            if (action == READ) {
                long length = in.u16() % (BUFFER_PAGES * MachineMemory.PAGE_SIZE + 1);
                long r = f.call(f.pm, Hypercall.ACM_GET_POLICY, f.pmBuffer, length);
                byte[] active = BinaryPolicy.encode(before);
                if (length < active.length) {
                    assertEquals(-Errno.ENOSPC, r, "a read into " + length + " bytes");
                } else {
                    assertEquals(active.length, r);
                    assertArrayEquals(active, f.pmMemory.hostRead(f.pmBuffer, active.length), "the read gives the active policy");
                }
                continue;
            }
            if (action == RESOURCE) {
                byte[] label = in.bytes(AccessControlModule.MAX_LABEL_BYTES + 2);
                f.pmMemory.hostWrite(f.pmBuffer, label, 0, label.length);
                long domid = in.pick(f.other.id(), f.pm.id(), in.u16(), in.i64());
                long length = in.pick(label.length, label.length, AccessControlModule.MAX_LABEL_BYTES + 1L, in.i64());
                long gpa = in.below(8) == 0 ? in.i64() : f.pmBuffer;
                Domain caller = in.below(4) == 0 ? f.other : f.pm;
                long r = f.call(caller, Hypercall.ACM_GET_RESOURCE_DECISION, domid, gpa, length);
                Domain d = domid >= 0 && domid < Hypervisor.MAX_DOMAINS ? f.hv.domain((int) domid) : null;
                if (caller == f.other) {
                    assertEquals(-Errno.EPERM, r, "another domain may not ask");
                } else if (d == null) {
                    assertEquals(-Errno.ENOENT, r);
                } else if (length <= 0 || length > AccessControlModule.MAX_LABEL_BYTES) {
                    assertEquals(-Errno.EINVAL, r, "a label of " + length + " bytes");
                } else if (gpa == f.pmBuffer && length <= label.length) {
                    String given = new String(label, 0, (int) length, java.nio.charset.StandardCharsets.UTF_8);
                    assertEquals(AccessControlModule.sharing(before, d.label(), given), r, "the policy's answer");
                } else {
                    assertTrue(r == 0 || r == -Errno.EACCES || r == -Errno.EFAULT, () -> "resource decision: " + Errno.name(r));
                }
                assertSame(before, f.acm.policy(), "a decision changes nothing");
                continue;
            }
            byte[] bytes;
            if (action == MUTATE) {
                bytes = f.valid.clone();
                int flips = in.below(4);
                for (int i = 0; i < flips; i++) {
                    bytes[in.u16() % bytes.length] ^= (byte) in.u8();
                }
            } else {
                bytes = in.bytes(BUFFER_PAGES * MachineMemory.PAGE_SIZE);
            }
            Domain caller = action == OTHER ? f.other : f.pm;
            DomainMemory memory = action == OTHER ? f.otherMemory : f.pmMemory;
            long buffer = action == OTHER ? f.otherBuffer : f.pmBuffer;
            memory.hostWrite(buffer, bytes, 0, bytes.length);
            // The length as given, or one past the buffer, or a raw value; the address the buffer's or raw.
            long length = in.pick(bytes.length, bytes.length, BUFFER_PAGES * MachineMemory.PAGE_SIZE + 1L, in.i64());
            long gpa = in.below(8) == 0 ? in.i64() : buffer;
            long mode = in.below(8) == 0 ? in.i64() : in.below(2);
            long r = f.call(caller, Hypercall.ACM_SET_POLICY, gpa, length, mode);
            if (action == OTHER) {
                assertEquals(-Errno.EPERM, r, "another domain may not load a policy");
                assertSame(before, f.acm.policy());
                continue;
            }
            assertTrue(r == 0 || ERRNOS.contains(r), () -> "ACM_SET_POLICY returned " + Errno.name(r));
            if (mode != 0 && mode != 1) {
                assertEquals(-Errno.EINVAL, r, "mode " + mode);
            }
            if (r == 0) {
                Policy loaded = f.acm.policy();
                assertEquals(length, bytes.length, "a policy loads only from exactly its bytes");
                assertEquals(gpa, buffer);
                Policy decoded = BinaryPolicy.decode(ByteBuffer.wrap(bytes));
                assertArrayEquals(BinaryPolicy.encode(decoded), BinaryPolicy.encode(loaded), "the loaded policy is the given one");
                // Put the base back so that the next action starts from it.
                assertEquals(0, f.acm.load(before));
            } else {
                assertSame(before, f.acm.policy(), "a refused load leaves the active policy");
            }
        }
    }
}
