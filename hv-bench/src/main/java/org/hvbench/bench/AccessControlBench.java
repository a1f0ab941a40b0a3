package org.hvbench.bench;

import java.util.concurrent.TimeUnit;

import org.hvbench.core.Errno;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;
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
 * What sHype's access-control module costs where it sits, at bind time (nanoseconds per call):
 * <ul>
 * <li>{@code sharingDecision}: one sharing hook (a grant map's), permitted, with the per-domain
 *     decision cache {@code on} (a hit) or {@code off} (the policy asked every time: two label
 *     lookups and a type intersection); {@code sharingRefusal}, a refusal, which is never cached.</li>
 * <li>{@code chineseWall}: the domain-creation hook's Chinese Wall check against {@code chwallTypes}
 *     types (in conflict sets of two) with {@code running} domains live: the running aggregate makes
 *     it a walk of the conflict sets, not of the domains.</li>
 * <li>{@code revoke}: one revoking policy change against {@code bindings} live event channels between
 *     two domains the new policy forbids to share: the review of every binding, the publication,
 *     the revocation (a fresh set of channels is bound before each call, outside the timing).</li>
 * </ul>
 * Each iteration ends with a check that every call did its work (the verdict expected, every binding
 * revoked), or the run fails.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 2, jvmArgsAppend = {BuildFlags.ADD_OPENS_FLAG, BuildFlags.ADD_OPENS_VALUE})
public class AccessControlBench {
    static Policy compile(String source) {
        try {
            return PolicyCompiler.compile(source);
        } catch (PolicyException e) {
            throw new IllegalStateException("a benchmark policy does not compile: " + e.getMessage(), e);
        }
    }

    /**
     * A machine, and the calls of one iteration: each must come back with the verdict its benchmark
     * expects ({@code wrong} counts those that did not), or the iteration fails.
     */
    @State(Scope.Thread)
    public abstract static class Checked {
        Machine machine;
        long calls;
        long wrong;

        @Setup(Level.Iteration)
        public void clear() {
            calls = 0;
            wrong = 0;
        }

        @TearDown(Level.Iteration)
        public void check() {
            if (calls == 0 || wrong != 0) {
                throw new IllegalStateException(getClass().getSimpleName() + ": " + calls + " calls in the iteration, " + wrong
                    + " without the verdict expected");
            }
        }

        @TearDown(Level.Trial)
        public void shutdown() {
            machine.close();
        }
    }

    /** Two customers who share a type, and a third who shares nothing with them. */
    @State(Scope.Thread)
    public static class Sharing extends Checked {
        @Param({"on", "off"})
        public String cache;

        AccessControlModule acm;
        Domain a;
        Domain b;
        Domain c;

        @Setup(Level.Trial)
        public void boot() {
            if (!cache.equals("on") && !cache.equals("off")) {
                throw new IllegalArgumentException("cache: '" + cache + "' is not allowed; on or off");
            }
            machine = new Machine(MachineConfig.defaults().memory(32L << 20));
            Hypervisor hv = new Hypervisor(machine);
            acm = new AccessControlModule(compile("policy sharing\nkind ste\nste-types dom0 t u\nlabel dom0 ste dom0 t u\n"
                + "label a ste t\nlabel b ste t\nlabel c ste u\n"));
            acm.install(hv, hv.dom0());
            acm.setCaching(cache.equals("on"));
            a = hv.createDomain("a", "a", 1L << 20, false);
            b = hv.createDomain("b", "b", 1L << 20, false);
            c = hv.createDomain("c", "c", 1L << 20, false);
        }

    }

    @Benchmark
    public int sharingDecision(Sharing s) {
        int v = s.acm.grantMap(s.a, s.b);
        s.calls++;
        s.wrong += v == 0 ? 0 : 1;
        return v;
    }

    @Benchmark
    public int sharingRefusal(Sharing s) {
        int v = s.acm.grantMap(s.a, s.c);
        s.calls++;
        s.wrong += v == -Errno.EACCES ? 0 : 1;
        return v;
    }

    /** {@code chwallTypes} Chinese Wall types in conflict sets of two; {@code running} domains hold one each. */
    @State(Scope.Thread)
    public static class Wall extends Checked {
        @Param({"2", "16", "64"})
        public int chwallTypes;

        @Param({"1", "16", "64"})
        public int running;

        AccessControlModule acm;

        @Setup(Level.Trial)
        public void boot() {
            if (chwallTypes < 2 || chwallTypes > Policy.MAX_TYPES || chwallTypes % 2 != 0) {
                throw new IllegalArgumentException("chwallTypes: " + chwallTypes + " is not allowed; an even number 2.." + Policy.MAX_TYPES);
            }
            if (running < 1 || running > 128) {
                throw new IllegalArgumentException("running: " + running + " is not allowed; 1..128");
            }
            StringBuilder src = new StringBuilder("policy wall\nkind chwall\nchwall-types");
            for (int t = 0; t < chwallTypes; t++) {
                src.append(" t").append(t);
            }
            src.append('\n');
            for (int t = 0; t < chwallTypes; t += 2) {
                src.append("conflict t").append(t).append(" t").append(t + 1).append('\n');
            }
            src.append("label dom0\n");
            for (int t = 0; t < chwallTypes; t++) {
                src.append("label l").append(t).append(" chwall t").append(t).append('\n');
            }
            machine = new Machine(MachineConfig.defaults().memory((running + 16L) << 20));
            Hypervisor hv = new Hypervisor(machine);
            acm = new AccessControlModule(compile(src.toString()));
            acm.install(hv, hv.dom0());
            // The running domains hold even types other than t0 (t0 itself with two types): never t1, t0's competitor.
            for (int i = 0; i < running; i++) {
                int type = chwallTypes == 2 ? 0 : 2 + 2 * (i % (chwallTypes / 2 - 1));
                hv.createDomain("d" + i, "l" + type, 1L << 20, false);
            }
        }

    }

    /** May a domain of type t0 start? Yes: its competitor t1 runs nowhere. */
    @Benchmark
    public int chineseWall(Wall w) {
        int v = w.acm.domainCreate("candidate", "l0", false);
        w.calls++;
        w.wrong += v == 0 ? 0 : 1;
        return v;
    }

    /** Two domains bound by {@code bindings} event channels; a policy that lets them share, and one that does not. */
    @State(Scope.Thread)
    public static class Bound extends Checked {
        @Param({"1", "64", "1000"})
        public int bindings;

        Hypervisor hv;
        Cpu cpu;
        EventChannels channels;
        AccessControlModule acm;
        Policy together;
        Policy apart;
        Domain a;
        Domain b;

        @Setup(Level.Trial)
        public void boot() {
            if (bindings < 1 || bindings >= EventChannels.PORTS) {
                throw new IllegalArgumentException("bindings: " + bindings + " is not allowed; 1.." + (EventChannels.PORTS - 1));
            }
            machine = new Machine(MachineConfig.defaults().memory(32L << 20));
            hv = new Hypervisor(machine);
            cpu = machine.newCpu("cpu0");
            hv.attach(cpu);
            channels = new EventChannels(hv);
            String base = "policy bound\nkind ste\nste-types dom0 t u\nlabel dom0 ste dom0 t u\nlabel a ste t\n";
            together = compile(base + "label b ste t\n");
            apart = compile(base + "label b ste u\n");
            acm = new AccessControlModule(together);
            acm.install(hv, hv.dom0());
            a = hv.createDomain("a", "a", 1L << 20, false);
            b = hv.createDomain("b", "b", 1L << 20, false);
        }

        /** Back to the sharing policy, every revoked port closed, and {@code bindings} fresh ones opened (untimed). */
        @Setup(Level.Invocation)
        public void bind() {
            if (acm.load(together) != 0) {
                throw new IllegalStateException("the sharing policy did not load");
            }
            for (int port = 1; port < EventChannels.PORTS; port++) {
                if (channels.isOpen(a, port)) {
                    channels.call(cpu, a, Hypercall.EVTCHN_CLOSE, port, 0, 0);
                }
            }
            for (int i = 0; i < bindings; i++) {
                long r = channels.call(cpu, a, Hypercall.EVTCHN_ALLOC_UNBOUND, b.id(), 0, 0);
                if (r < 0) {
                    throw new IllegalStateException("binding " + i + " failed: " + Errno.name(r));
                }
            }
        }

    }

    @Benchmark
    public int revoke(Bound s) {
        int r = s.acm.load(s.apart, AccessControlModule.Mode.REVOKE);
        s.calls++;
        s.wrong += r == 0 && s.acm.lastRevocation().revoked("event channel") == s.bindings ? 0 : 1;
        return r;
    }
}
