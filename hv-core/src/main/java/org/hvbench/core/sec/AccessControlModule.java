package org.hvbench.core.sec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.AccessControl;
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
 * a label of its own ({@link #labelDevice}), and an unlabelled one is shared with nobody. The Chinese
 * Wall keeps the running aggregate: per Chinese Wall type, how many live domains hold it.
 *
 * <p>Decisions are made at bind time, on the toolstack's and the hypercalls' threads; the policy is
 * one volatile reference (release on {@link #load}, acquire on each decision); the running aggregate
 * changes only on domain creation and destruction, which the toolstack serialises, and is read under
 * the same thread (plain fields).
 */
public final class AccessControlModule implements AccessControl {
    private volatile Policy policy;
    /** Per Chinese Wall type of the active policy, how many live domains hold it. */
    private final int[] running = new int[Policy.MAX_TYPES];
    private final Map<Integer, String> deviceLabels = new HashMap<>();
    private Hypervisor hv;
    private Domain policyManager;

    public AccessControlModule(Policy policy) {
        this.policy = policy;
    }

    /**
     * Installs this module in {@code hypervisor}: its hooks, and the {@code XSM_OP} hypercall through
     * which {@code manager} (the Policy Manager's domain) loads and reads policies. Domains that run
     * already count in the Chinese Wall's running set.
     */
    public void install(Hypervisor hypervisor, Domain manager) {
        this.hv = hypervisor;
        this.policyManager = manager;
        recount(policy);
        hypervisor.setAccessControl(this);
        hypervisor.registerHypercall(Hypercall.XSM_OP, this::hypercall);
    }

    /**
     * Makes {@code p} the active policy (the Policy Manager's load); decisions from now on use it.
     *
     * @return 0, or {@code -EBUSY} when domains that run already break its Chinese Wall (the policy is
     *     refused, the old one stays: the {@code reject} mode)
     */
    public int load(Policy p) {
        if (hv != null && p.kind().chwall()) {
            long seen = 0;
            for (int id = 0; id < Hypervisor.MAX_DOMAINS; id++) {
                Domain d = hv.domain(id);
                Policy.Label l = d == null ? null : p.label(d.label());
                if (l != null) {
                    if (!p.mayRun(l, seen)) {
                        return -Errno.EBUSY;
                    }
                    seen |= l.chwallTypes();
                }
            }
        }
        recount(p);
        this.policy = p;
        return 0;
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
                if (a2 < BinaryPolicy.HEADER_BYTES || a2 > BinaryPolicy.MAX_BYTES) {
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
                return load(p);
            }
            case Hypercall.ACM_GET_POLICY:
                if (caller != policyManager) {
                    return -Errno.EPERM;
                }
                return copyOut(cpu, caller, a1, a2, BinaryPolicy.encode(policy));
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
                return share(a.label(), b.label());
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
        return policy;
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
        Policy p = policy;
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
        Policy.Label l = policy.label(d.label());
        if (l != null) {
            add(l.chwallTypes(), 1);
        }
    }

    @Override
    public void domainDestroyed(Domain d) {
        Policy.Label l = policy.label(d.label());
        if (l != null) {
            add(l.chwallTypes(), -1);
        }
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
        return share(a.label(), b.label());
    }

    @Override
    public int eventChannelBind(Domain a, Domain b) {
        return share(a.label(), b.label());
    }

    @Override
    public int grantMap(Domain mapper, Domain granter) {
        return share(mapper.label(), granter.label());
    }

    @Override
    public int grantCopy(Domain caller, Domain other) {
        return share(caller.label(), other.label());
    }

    @Override
    public int foreignMap(Domain mapper, Domain target) {
        return share(mapper.label(), target.label());
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
        Policy p = policy;
        if (!p.kind().ste()) {
            return 0;
        }
        String label = deviceLabels.get(deviceId);
        return label == null ? -Errno.EACCES : share(p, d.label(), label);
    }

    private int share(String a, String b) {
        return share(policy, a, b);
    }

    private static int share(Policy p, String a, String b) {
        if (!p.kind().ste()) {
            return 0;
        }
        Policy.Label la = p.label(a);
        Policy.Label lb = p.label(b);
        return la != null && lb != null && p.mayShare(la, lb) ? 0 : -Errno.EACCES;
    }
}
