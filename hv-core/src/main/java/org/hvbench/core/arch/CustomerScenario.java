package org.hvbench.core.arch;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.exec.InlineExecutor;
import org.hvbench.core.guest.Aio;
import org.hvbench.core.guest.App;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.BinaryPolicy;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;

/**
 * sHype on a real I/O partition, step by step: three labelled customers of one hosting machine, A
 * and B competitors (one conflict-of-interest set), every customer's virtual disk served by the one
 * partition. dom0, the Policy Manager, loads the policies through its hypercall; each step says what
 * sHype should do and what the machine did. What is allowed (each customer's own disk, with its data
 * checked), what is denied (a competitor's start, a neighbour's disk, an event channel between
 * customers), and what two policy changes revoke: the partition stops serving C (C's disk is taken
 * away with a request waiting, A's I/O goes on), and A and C become competitors (C, started later,
 * is stopped). The audits of the hypervisor and the grant tables pass at the end.
 * {@code scripts/policy.sh scenario} prints it; {@code CustomerScenarioTest} checks every step.
 */
public final class CustomerScenario {
    /** The hosting policy: the partition serves all three customers; A and B may not run at once. */
    public static final String HOSTING = String.join("\n",
        "policy hosting",
        "kind chwall+ste",
        "ste-types system A B C",
        "chwall-types A B C",
        "conflict A B",
        "label dom0 ste system A B C",
        "label partition ste system A B C",
        "label guest ste system",
        "label customer-a ste A chwall A",
        "label customer-b ste B chwall B",
        "label customer-c ste C chwall C",
        "label disk-a ste A",
        "label disk-b ste B",
        "label disk-c ste C",
        "");
    /** The first change: the partition no longer holds type C, so it may no longer serve customer C. */
    public static final String WITHOUT_C = HOSTING.replace("policy hosting", "policy hosting-without-c")
        .replace("label partition ste system A B C", "label partition ste system A B");
    /** The second change: A and C become competitors too. */
    public static final String A_AND_C_COMPETE = HOSTING.replace("policy hosting", "policy hosting-a-c-compete")
        .replace("conflict A B", "conflict A B\nconflict A C");

    private static final int SECTORS = 64;

    /** One step: what was done, what sHype should make of it, what happened, and whether they agree. */
    public record Step(String action, String expected, String outcome, boolean asExpected) {
    }

    private final IoPartitionPlacement p;
    private final Hypervisor hv;
    private final Cpu cpu;
    private final InlineExecutor executor;
    private final AccessControlModule acm;
    private final DomainMemory dom0Memory;
    private final long policyBuffer;
    private final List<Step> steps = new ArrayList<>();
    private long nextTag = 1;

    private CustomerScenario() {
        MachineConfig config = MachineConfig.defaults().memory(96L << 20).diskBytes(1L << 20)
            .mac("chwall-ste");
        p = (IoPartitionPlacement) Placement.IO_PARTITION.open(config, 4);
        hv = p.hypervisor();
        cpu = p.cpu();
        executor = new InlineExecutor(p);
        acm = p.accessControl();
        dom0Memory = new DomainMemory(hv.dom0(), p.machine().memory());
        policyBuffer = dom0Memory.allocate(4);
    }

    /** Runs every step on a fresh machine; the machine is closed afterwards. */
    public static List<Step> run() {
        CustomerScenario s = new CustomerScenario();
        try {
            s.play();
        } finally {
            s.p.machine().close();
        }
        return List.copyOf(s.steps);
    }

    private void step(String action, String expected, String outcome, boolean ok) {
        steps.add(new Step(action, expected, outcome, ok));
    }

    private void play() {
        long r = load(HOSTING, 0);
        step("dom0 loads 'hosting' (reject mode)", "loaded: every binding so far is allowed", errno(r), r == 0);

        IoPartitionPlacement.Guest a = add("customer-a", "customer-a", "disk-a", 1);
        IoPartitionPlacement.Guest c = add("customer-c", "customer-c", "disk-c", 2);
        step("customer-a and customer-c start, each with its own disk", "both run, both disks connected",
            a != null && c != null ? "running, connected" : "refused", a != null && c != null && !a.front.detached() && !c.front.detached());
        ioStep("customer-a writes and reads back its disk", a, 1);
        ioStep("customer-c writes and reads back its disk", c, 2);

        String refusal = createRefused("customer-b", "customer-b");
        step("customer-b (A's competitor) starts", "refused (-EACCES): the Chinese Wall, A runs", refusal,
            refusal.contains(Errno.name(-Errno.EACCES)));

        IoPartitionPlacement.Guest spy = add("customer-c-2", "customer-c", "disk-a", 3);
        long spyIo = spy == null ? 0 : writeRead(spy, 3);
        step("a second guest of customer C asks for A's disk", "the back end's check refuses it; its I/O gets -ENODEV",
            spy == null ? "not created" : (spy.front.detached() ? "disk refused, I/O " : "connected, I/O ") + errno(spyIo),
            spy != null && spy.front.detached() && spyIo == -Errno.ENODEV && p.back().refusedConnects() == 1);

        cpu.start(a.domain.kernel());
        long port = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_ALLOC_UNBOUND, c.domain.id(), 0, 0);
        step("customer-a opens an event channel for customer-c", "refused (-EACCES): no STE type in common", errno(port),
            port == -Errno.EACCES);

        r = load(WITHOUT_C, 0);
        step("dom0 loads 'hosting-without-c' (reject mode)", "refused (-EBUSY): the partition serves C now",
            errno(r) + ", active: " + acm.policy().name(), r == -Errno.EBUSY && acm.policy().name().equals("hosting"));

        // A request of C's is on its way when the policy changes.
        long waiting = submitRead(c, 2);
        r = load(WITHOUT_C, 1);
        AccessControlModule.Revocation rv = acm.lastRevocation();
        long waited = waiting < 0 ? waiting : awaitResult(c, waiting);
        long after = writeRead(c, 2);
        step("dom0 loads 'hosting-without-c' (revoke mode) with a read of C's in flight",
            "loaded; C's disk taken away: the waiting read gets -EIO, new I/O -ENODEV",
            errno(r) + "; detached " + rv.frontEndsDisconnected() + ", waiting read " + errno(waited) + ", next " + errno(after)
                + "; revoked " + rv.revoked(),
            r == 0 && c.front.detached() && waited == -Errno.EIO && after == -Errno.ENODEV && rv.frontEndsDisconnected() == 1);
        ioStep("customer-a writes and reads back its disk after the change", a, 1);

        r = load(A_AND_C_COMPETE, 1);
        rv = acm.lastRevocation();
        step("dom0 loads 'hosting-a-c-compete' (revoke mode)", "loaded; C's two guests, started after A, are stopped",
            errno(r) + "; stopped " + rv.domainsStopped() + ", customer-c " + (c.domain.destroyed() ? "destroyed" : "runs"),
            r == 0 && c.domain.destroyed() && spy.domain.destroyed() && !a.domain.destroyed() && rv.domainsStopped() == 2);
        ioStep("customer-a writes and reads back its disk after the second change", a, 1);

        p.destroyGuest(a);
        IoPartitionPlacement.Guest b = add("customer-b", "customer-b", "disk-b", 4);
        step("customer-a stops; customer-b starts", "customer-b runs with its disk", b == null ? "refused" : "running",
            b != null && !b.front.detached());
        ioStep("customer-b writes and reads back its disk", b, 4);

        executor.runUntilIdle();
        String hvAudit = hv.audit();
        String grantAudit = p.grantOps().audit();
        step("the hypervisor's and the grant tables' audits", "pass", hvAudit == null && grantAudit == null ? "pass"
            : String.valueOf(hvAudit != null ? hvAudit : grantAudit), hvAudit == null && grantAudit == null);
    }

    /** dom0 writes the compiled policy into its memory and loads it (mode 0 reject, 1 revoke). */
    private long load(String source, int mode) {
        byte[] bytes;
        try {
            bytes = BinaryPolicy.encode(PolicyCompiler.compile(source));
        } catch (PolicyException e) {
            throw new IllegalStateException("a scenario policy does not compile: " + e.getMessage(), e);
        }
        dom0Memory.hostWrite(policyBuffer, bytes, 0, bytes.length);
        cpu.start(hv.dom0().kernel());
        long r = hv.hypercall(cpu, Hypercall.XSM_OP, Hypercall.ACM_SET_POLICY, policyBuffer, bytes.length, mode);
        cpu.start(p.app().kernel().appContext());
        return r;
    }

    /** A guest with its own extent of the disk, or null when access control refused to create it. */
    private IoPartitionPlacement.Guest add(String name, String label, String vbd, int extent) {
        try {
            return p.addGuest(name, label, vbd, 4, (long) extent * SECTORS, SECTORS, null);
        } catch (IllegalStateException e) {
            return null;
        }
    }

    private String createRefused(String name, String label) {
        try {
            p.addGuest(name, label, "disk-b", 4, 0, SECTORS, null);
            return "created";
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }

    private void ioStep(String action, IoPartitionPlacement.Guest g, int stamp) {
        long r = g == null ? -Errno.ENOENT : writeRead(g, stamp);
        step(action, "the data read is the data written", r == 0 ? "same data" : errno(r), r == 0);
    }

    /** Writes a stamped page to the guest's disk and reads it back: 0 when the data is the same, else the errno. */
    private long writeRead(IoPartitionPlacement.Guest g, int stamp) {
        App app = g.app;
        long buffer = app.allocateBuffer(MachineMemory.PAGE_SIZE);
        byte[] data = new byte[MachineMemory.PAGE_SIZE];
        Arrays.fill(data, (byte) (0x40 + stamp));
        byte[] tag = ("customer disk " + stamp + " io " + nextTag).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(tag, 0, data, 0, tag.length);
        app.memory().hostWrite(buffer, data, 0, data.length);
        long w = io(g, Aio.PWRITE, buffer);
        if (w < 0) {
            return w;
        }
        app.memory().hostWrite(buffer, new byte[data.length], 0, data.length);
        long rd = io(g, Aio.PREAD, buffer);
        if (rd < 0) {
            return rd;
        }
        return Arrays.equals(data, app.memory().hostRead(buffer, data.length)) ? 0 : -Errno.EIO;
    }

    private long io(IoPartitionPlacement.Guest g, int op, long buffer) {
        long tag = prepare(g, op, buffer);
        cpu.idleSwitch(g.app.kernel().appContext());
        long before = g.app.completed();
        long r = g.app.submit(cpu, 0, 1);
        if (r < 0) {
            return r;
        }
        executor.runUntil(g.app::completed, before + 1);
        long result = g.app.result(tag);
        return result < 0 ? result : 0;
    }

    /** Submits a read and leaves it in flight: its tag, or the submit's errno. */
    private long submitRead(IoPartitionPlacement.Guest g, int stamp) {
        long tag = prepare(g, Aio.PREAD, g.app.allocateBuffer(MachineMemory.PAGE_SIZE));
        cpu.idleSwitch(g.app.kernel().appContext());
        long r = g.app.submit(cpu, 0, 1);
        return r < 0 ? r : tag;
    }

    private long awaitResult(IoPartitionPlacement.Guest g, long tag) {
        executor.runUntilIdle();
        return g.app.result(tag);
    }

    private long prepare(IoPartitionPlacement.Guest g, int op, long buffer) {
        long tag = nextTag++;
        g.app.prepare(cpu, 0, op, 0, buffer, MachineMemory.PAGE_SIZE, tag);
        return tag;
    }

    private static String errno(long r) {
        return r >= 0 ? String.valueOf(r) : Errno.name(r);
    }

    /** The steps as a Markdown table. */
    public static String table(List<Step> steps) {
        StringBuilder b = new StringBuilder("| step | sHype should | the machine did | |\n|---|---|---|---|\n");
        for (Step s : steps) {
            b.append("| ").append(s.action()).append(" | ").append(s.expected()).append(" | ").append(s.outcome().replace('|', '/'))
                .append(" | ").append(s.asExpected() ? "ok" : "**WRONG**").append(" |\n");
        }
        return b.toString();
    }
}
