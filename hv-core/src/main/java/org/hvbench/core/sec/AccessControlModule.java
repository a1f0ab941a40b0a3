package org.hvbench.core.sec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.AccessControl;
import org.hvbench.core.hv.Bindings;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * sHype's Access Control Module: the decisions behind the hypervisor's hooks, from the active
 * {@link Policy}. A domain's label is the one it was created with; a label the policy does not
 * define is refused at creation. Sharing (event channels, grants, foreign maps) needs the two labels'
 * STE types to intersect; a device (assigned, or a block device the hypervisor's driver shares) needs
 * a label of its own ({@link #labelDevice}), and an unlabelled one is shared with nobody; a virtual
 * device an I/O partition serves is labelled by its toolstack, and the back end asks the module
 * ({@code ACM_GET_RESOURCE_DECISION}) before it connects a front end to it. The Chinese Wall keeps the
 * running aggregate: per Chinese Wall type, how many live domains hold it.
 *
 * <p>Decisions are made at bind time, on the toolstack's and the hypercalls' threads. The active
 * policy and its epoch are one volatile reference (release on a load, acquire on each decision), and
 * the sharing decisions go through a {@link DecisionCache} whose entries carry that epoch. Loads,
 * domain creation and destruction are the toolstack's and serialised by it; the running aggregate
 * and the device labels change only there and are plain fields.
 *
 * <p>A new policy meets the bindings that exist ({@link #load(Policy, Mode)}): {@link Mode#REJECT}
 * refuses one they break; {@link Mode#REVOKE} applies it and tears down what it forbids, in this
 * order: the domains that break its Chinese Wall are stopped, the toolstack disconnects the front
 * ends of the virtual devices it forbids, and what is still bound between domains it forbids to share
 * (event channels, grant mappings) is revoked in the hypervisor.
 */
public final class AccessControlModule implements AccessControl {
    /** What a policy change does with the bindings the new policy forbids. */
    public enum Mode {
        /** Refuse the policy ({@code -EBUSY}); the old one stays. */
        REJECT,
        /** Apply it and tear down what it forbids. */
        REVOKE;

        /** The mode named in a policy-change request ({@code reject} or {@code revoke}). */
        public static Mode parse(String s) {
            switch (s) {
                case "reject":
                    return REJECT;
                case "revoke":
                    return REVOKE;
                default:
                    throw new IllegalArgumentException("policy change mode '" + s + "': say reject or revoke");
            }
        }
    }

    /**
     * What a revoking load tore down: domains stopped for the Chinese Wall, front ends the toolstack
     * disconnected, and the bindings revoked in the hypervisor, by kind ({@link Bindings#kind}).
     */
    public record Revocation(int domainsStopped, int frontEndsDisconnected, Map<String, Integer> revoked) {
        public static final Revocation NONE = new Revocation(0, 0, Map.of());

        public int revoked(String kind) {
            return revoked.getOrDefault(kind, 0);
        }
    }

    /** The label bytes {@code ACM_GET_RESOURCE_DECISION} takes at most. */
    public static final int MAX_LABEL_BYTES = 256;

    /** The active policy and its epoch, published together (the cache's entries name the epoch). */
    private record Active(Policy policy, int epoch) {
    }

    private volatile Active active;
    private final DecisionCache cache = new DecisionCache(Hypervisor.MAX_DOMAINS);
    private volatile boolean caching = true;
    /** Per Chinese Wall type of the active policy, how many live domains hold it. */
    private final int[] running = new int[Policy.MAX_TYPES];
    private final Map<Integer, String> deviceLabels = new HashMap<>();
    private Hypervisor hv;
    private Domain policyManager;
    private Toolstack toolstack;
    private Revocation lastRevocation = Revocation.NONE;

    public AccessControlModule(Policy policy) {
        this.active = new Active(policy, 1);
    }

    /**
     * Installs this module in {@code hypervisor}: its hooks, and the {@code XSM_OP} hypercall through
     * which {@code manager} (the Policy Manager's domain) loads and reads policies. Domains that run
     * already count in the Chinese Wall's running set.
     */
    public void install(Hypervisor hypervisor, Domain manager) {
        this.hv = hypervisor;
        this.policyManager = manager;
        recount(policy());
        hypervisor.setAccessControl(this);
        hypervisor.registerHypercall(Hypercall.XSM_OP, this::hypercall);
    }

    /** The toolstack that serves labelled resources and stops guests (set-up; at most one). */
    public void setToolstack(Toolstack t) {
        this.toolstack = t;
    }

    /** Whether sharing decisions use the per-domain cache (on by default; off to measure a decision). */
    public void setCaching(boolean on) {
        this.caching = on;
        cache.clear();
    }

    /** {@link #load(Policy, Mode)} in {@link Mode#REJECT} mode. */
    public int load(Policy p) {
        return load(p, Mode.REJECT);
    }

    /**
     * Makes {@code p} the active policy (the Policy Manager's load); decisions from now on use it,
     * and nothing the old policy cached answers for it.
     *
     * @return 0; {@code -EINVAL} when {@code p} does not define the label of a live domain (a policy
     *     change does not relabel); {@code -EBUSY} when live domains or bindings break {@code p} and
     *     {@code mode} is {@link Mode#REJECT}, or a privileged domain would have to stop for its
     *     Chinese Wall (the old policy stays in both cases)
     */
    public int load(Policy p, Mode mode) {
        Review r = review(p);
        if (r.unlabelled) {
            return -Errno.EINVAL;
        }
        if (!r.clean() && (mode == Mode.REJECT || r.privilegedViolator)) {
            return -Errno.EBUSY;
        }
        publish(p);
        if (r.clean()) {
            lastRevocation = Revocation.NONE;
            return 0;
        }
        int stopped = 0;
        for (Domain d : r.violators) {
            if (!d.destroyed()) {
                if (toolstack == null || !toolstack.stop(d)) {
                    hv.destroyDomain(d);
                }
                stopped++;
            }
        }
        int detached = toolstack == null ? 0 : toolstack.revoke(p);
        Map<String, Integer> revoked = new LinkedHashMap<>();
        for (Bindings b : hv.bindings()) {
            int n = 0;
            for (long pair : r.pairs) {
                Domain x = hv.domain((int) (pair >>> 32));
                Domain y = hv.domain((int) pair);
                if (x != null && y != null) {
                    n += b.revoke(x, y);
                }
            }
            revoked.merge(b.kind(), n, Integer::sum);
        }
        lastRevocation = new Revocation(stopped, detached, java.util.Collections.unmodifiableMap(revoked));
        return 0;
    }

    /** What the last successful load tore down ({@link Revocation#NONE} when it found nothing to). */
    public Revocation lastRevocation() {
        return lastRevocation;
    }

    /** The new policy's epoch published, the running aggregate recounted under it, the cache emptied. */
    private void publish(Policy p) {
        recount(p);
        this.active = new Active(p, active.epoch() + 1);
        cache.clear();
    }

    /** What {@code p} finds wrong with the domains and bindings that exist now. */
    private static final class Review {
        boolean unlabelled;
        boolean privilegedViolator;
        final List<Domain> violators = new ArrayList<>();
        /** Domain pairs (the larger id above) with bindings {@code p} forbids. */
        final Set<Long> pairs = new LinkedHashSet<>();
        int resources;

        boolean clean() {
            return violators.isEmpty() && pairs.isEmpty() && resources == 0;
        }
    }

    /**
     * Every live domain, lowest id first (dom0 and the I/O partition before the guests they serve),
     * joins the running aggregate of {@code p} unless a domain already in it holds a conflicting
     * type: then it breaks the Chinese Wall. Every binding between two domains that stay must be one
     * {@code p} lets them share, and so must every front end's virtual device (the toolstack's count).
     */
    private Review review(Policy p) {
        Review r = new Review();
        if (hv == null || p.kind() == Policy.Kind.NULL) {
            return r;
        }
        long seen = 0;
        Set<Domain> stopping = new HashSet<>();
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            Domain d = hv.domain(id);
            if (d == null) {
                continue;
            }
            Policy.Label l = p.label(d.label());
            if (l == null) {
                r.unlabelled = true;
                return r;
            }
            if (p.mayRun(l, seen)) {
                seen |= l.chwallTypes();
            } else {
                r.violators.add(d);
                stopping.add(d);
                r.privilegedViolator |= d.privileged();
            }
        }
        for (Bindings b : hv.bindings()) {
            b.forEach((x, y) -> {
                if (!stopping.contains(x) && !stopping.contains(y) && sharing(p, x.label(), y.label()) < 0) {
                    r.pairs.add((long) Math.max(x.id(), y.id()) << 32 | Math.min(x.id(), y.id()));
                }
            });
        }
        r.resources = toolstack == null ? 0 : toolstack.violations(p);
        return r;
    }

    /** The running set under {@code p}'s types: the live domains' labels, as {@code p} defines them. */
    private void recount(Policy p) {
        Arrays.fill(running, 0);
        if (hv == null) {
            return;
        }
        for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
            Domain d = hv.domain(id);
            Policy.Label l = d == null ? null : p.label(d.label());
            if (l != null) {
                add(l.chwallTypes(), 1);
            }
        }
    }

    /** The {@code XSM_OP} hypercall; every argument is the caller's and is checked. */
    long hypercall(Cpu cpu, Domain caller, long cmd, long a1, long a2, long a3) {
        switch ((int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, cmd))) {
            case Hypercall.ACM_SET_POLICY: {
                if (caller != policyManager) {
                    return -Errno.EPERM;
                }
                if (a2 < BinaryPolicy.HEADER_BYTES || a2 > BinaryPolicy.MAX_BYTES || a3 != 0 && a3 != 1) {
                    return -Errno.EINVAL;
                }
                byte[] bytes = new byte[(int) a2];
                long r = copyIn(cpu, caller, a1, bytes);
                if (r < 0) {
                    return r;
                }
                Policy p;
                try {
                    p = BinaryPolicy.decode(ByteBuffer.wrap(bytes));
                } catch (PolicyException e) {
                    return -Errno.EINVAL;
                }
                return load(p, a3 == 1 ? Mode.REVOKE : Mode.REJECT);
            }
            case Hypercall.ACM_GET_POLICY:
                if (caller != policyManager) {
                    return -Errno.EPERM;
                }
                return copyOut(cpu, caller, a1, a2, BinaryPolicy.encode(policy()));
            case Hypercall.ACM_GET_SSID: {
                if (caller != policyManager) {
                    return -Errno.EPERM;
                }
                Domain d = a1 >= 0 && a1 < Hypervisor.MAX_DOMAINS ? hv.domain((int) a1) : null;
                if (d == null) {
                    return -Errno.ENOENT;
                }
                return copyOut(cpu, caller, a2, a3, d.label().getBytes(StandardCharsets.UTF_8));
            }
            case Hypercall.ACM_GET_DECISION: {
                if (caller != policyManager && !caller.privileged()) {
                    return -Errno.EPERM;
                }
                Domain a = a1 >= 0 && a1 < Hypervisor.MAX_DOMAINS ? hv.domain((int) a1) : null;
                Domain b = a2 >= 0 && a2 < Hypervisor.MAX_DOMAINS ? hv.domain((int) a2) : null;
                if (a == null || b == null) {
                    return -Errno.ENOENT;
                }
                return share(a, b);
            }
            case Hypercall.ACM_GET_RESOURCE_DECISION: {
                if (caller != policyManager && !caller.privileged()) {
                    return -Errno.EPERM;
                }
                Domain d = a1 >= 0 && a1 < Hypervisor.MAX_DOMAINS ? hv.domain((int) a1) : null;
                if (d == null) {
                    return -Errno.ENOENT;
                }
                if (a3 <= 0 || a3 > MAX_LABEL_BYTES) {
                    return -Errno.EINVAL;
                }
                byte[] label = new byte[(int) a3];
                long r = copyIn(cpu, caller, a2, label);
                if (r < 0) {
                    return r;
                }
                return sharing(policy(), d.label(), new String(label, StandardCharsets.UTF_8));
            }
            default:
                return -Errno.EINVAL;
        }
    }

    /** Copies the caller's bytes at {@code gpa} into {@code into}, a page at a time; 0 or {@code -EFAULT}. */
    private static long copyIn(Cpu cpu, Domain caller, long gpa, byte[] into) {
        MachineMemory memory = cpu.memory();
        int done = 0;
        while (done < into.length) {
            long va = gpa + done;
            if (va < 0) {
                return -Errno.EFAULT;
            }
            long ma = cpu.translate(caller.space(), va, Translation.READ);
            if (ma < 0) {
                return -Errno.EFAULT;
            }
            int chunk = (int) Math.min(into.length - done, MachineMemory.PAGE_SIZE - (va & MachineMemory.PAGE_MASK));
            memory.getBytes(ma, into, done, chunk);
            done += chunk;
        }
        return 0;
    }

    /** Copies {@code bytes} to the caller's buffer (gpa, length); their length, {@code -ENOSPC} or {@code -EFAULT}. */
    private static long copyOut(Cpu cpu, Domain caller, long gpa, long length, byte[] bytes) {
        if (length < bytes.length) {
            return -Errno.ENOSPC;
        }
        MachineMemory memory = cpu.memory();
        int done = 0;
        while (done < bytes.length) {
            long va = gpa + done;
            long ma = va < 0 ? -Errno.EFAULT : cpu.translate(caller.space(), va, Translation.WRITE);
            if (ma < 0) {
                return -Errno.EFAULT;
            }
            int chunk = (int) Math.min(bytes.length - done, MachineMemory.PAGE_SIZE - (va & MachineMemory.PAGE_MASK));
            memory.putBytes(ma, bytes, done, chunk);
            done += chunk;
        }
        return bytes.length;
    }

    public Policy policy() {
        return active.policy();
    }

    /** Gives device {@code deviceId} the label {@code label} (a resource label, as the configuration names it). */
    public void labelDevice(int deviceId, String label) {
        deviceLabels.put(deviceId, label);
    }

    /** The Chinese Wall types some live domain holds, as a mask. */
    public long runningTypes() {
        long mask = 0;
        for (int t = 0; t < Policy.MAX_TYPES; t++) {
            if (running[t] > 0) {
                mask |= 1L << t;
            }
        }
        return mask;
    }

    @Override
    public int domainCreate(String name, String label, boolean privileged) {
        Policy p = policy();
        if (p.kind() == Policy.Kind.NULL) {
            return 0;
        }
        Policy.Label l = p.label(label);
        if (l == null) {
            return -Errno.EACCES;
        }
        return p.mayRun(l, runningTypes()) ? 0 : -Errno.EACCES;
    }

    @Override
    public void domainCreated(Domain d) {
        Policy.Label l = policy().label(d.label());
        if (l != null) {
            add(l.chwallTypes(), 1);
        }
    }

    @Override
    public void domainDestroyed(Domain d) {
        Policy.Label l = policy().label(d.label());
        if (l != null) {
            add(l.chwallTypes(), -1);
        }
        cache.forget(d.id());
    }

    private void add(long types, int delta) {
        for (int t = 0; t < Policy.MAX_TYPES; t++) {
            if ((types & (1L << t)) != 0) {
                running[t] = Math.max(0, running[t] + delta);
            }
        }
    }

    @Override
    public int eventChannelAllocUnbound(Domain a, Domain b) {
        return share(a, b);
    }

    @Override
    public int eventChannelBind(Domain a, Domain b) {
        return share(a, b);
    }

    @Override
    public int grantMap(Domain mapper, Domain granter) {
        return share(mapper, granter);
    }

    @Override
    public int grantCopy(Domain caller, Domain other) {
        return share(caller, other);
    }

    @Override
    public int foreignMap(Domain mapper, Domain target) {
        return share(mapper, target);
    }

    @Override
    public int deviceAssign(Domain domain, int deviceId) {
        return device(domain, deviceId);
    }

    @Override
    public int blockDeviceConnect(Domain domain, int deviceId) {
        return device(domain, deviceId);
    }

    private int device(Domain d, int deviceId) {
        Policy p = policy();
        if (!p.kind().ste()) {
            return 0;
        }
        String label = deviceLabels.get(deviceId);
        return label == null ? -Errno.EACCES : sharing(p, d.label(), label);
    }

    private int share(Domain a, Domain b) {
        return decide(a.id(), a.label(), b.id(), b.label());
    }

    /**
     * The sharing hooks' decision, by domain ids and labels: a permit cached for this policy's epoch,
     * or the policy's answer (a permit then cached). 0 or {@code -EACCES}.
     */
    public int decide(int a, String labelA, int b, String labelB) {
        Active s = active;
        if (!s.policy().kind().ste()) {
            return 0;
        }
        if (caching && cache.permits(s.epoch(), a, b)) {
            return 0;
        }
        int verdict = sharing(s.policy(), labelA, labelB);
        if (verdict == 0 && caching) {
            cache.remember(s.epoch(), a, b);
        }
        return verdict;
    }

    /** Does the active policy's cache hold a permit for {@code a} and {@code b}? (tests, the jcstress check) */
    public boolean cachedPermit(int a, int b) {
        return cache.permits(active.epoch(), a, b);
    }

    /** Permits cached now, of any epoch (tests). */
    int cachedEntries() {
        return cache.size();
    }

    /** May labels {@code a} and {@code b} share under {@code p}? 0 or {@code -EACCES} (a label {@code p} does not define shares nothing). */
    public static int sharing(Policy p, String a, String b) {
        if (!p.kind().ste()) {
            return 0;
        }
        Policy.Label la = p.label(a);
        Policy.Label lb = p.label(b);
        return la != null && lb != null && p.mayShare(la, lb) ? 0 : -Errno.EACCES;
    }
}
