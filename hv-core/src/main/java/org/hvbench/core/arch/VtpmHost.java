package org.hvbench.core.arch;

import java.util.Locale;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.Crossing;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.evtchn.EventChannels;
import org.hvbench.core.evtchn.EventDispatcher;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.guest.Store;
import org.hvbench.core.guest.TpmBack;
import org.hvbench.core.guest.TpmFront;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.tpm.EventLog;
import org.hvbench.core.tpm.MeasuredBoot;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.Vtpm;

/**
 * A machine whose guests each have a TPM, in one of the places Perez, van Doorn and Sailer discuss
 * (section IV.B): {@link Where#TPM_DOMAIN}, a vTPM per guest in a TPM domain the toolstack starts
 * before any guest, reached by the guest's {@link TpmFront} and the domain's {@link TpmBack} (their
 * figure 5, right); {@link Where#HYPERVISOR}, a vTPM per guest inside the hypervisor, reached by a
 * hypercall ({@link Hypercall#TPM_OP}: no TPM domain, but the TPM's code in the hypervisor's trusted
 * base); and {@link Where#GUEST}, the TPM software in the guest's own kernel (the floor: no isolation
 * from the guest, no crossing but the system call). A command from the guest's application
 * is a system call into its kernel; the crossings it costs are on the CPU's trace.
 *
 * <p>One command, {@code tpm-domain}: SYSCALL, HYPERCALL (the guest's event send), VIRQ (the
 * hypervisor enters the TPM domain on the way out of it, and the back end runs the command there),
 * HYPERCALL (the TPM domain's event send back), VMENTRY (the hypervisor resumes the guest's kernel),
 * VIRQ (its upcall takes the answer), SYSRET: seven. {@code hypervisor}: SYSCALL, HYPERCALL,
 * VMENTRY, SYSRET. {@code guest}: SYSCALL, SYSRET.
 */
public final class VtpmHost implements AutoCloseable {
    /** Where a guest's TPM runs. */
    public enum Where {
        TPM_DOMAIN("tpm-domain"),
        HYPERVISOR("hypervisor"),
        GUEST("guest");

        private final String id;

        Where(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        /** @throws IllegalArgumentException naming the setting {@code tpm} and the known places */
        public static Where parse(String name) {
            String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
            for (Where w : values()) {
                if (w.id.equals(n)) {
                    return w;
                }
            }
            throw new IllegalArgumentException("tpm: '" + name + "' is unknown; known places: tpm-domain, hypervisor, guest");
        }
    }

    /** Rounds of interrupt delivery a command may take before the host calls it lost. */
    static final int MAX_ROUNDS = 64;
    static final long TPM_DOMAIN_BYTES = 4L << 20;
    static final long GUEST_BYTES = 2L << 20;

    private final Where where;
    private final Machine machine;
    private final Hypervisor hv;
    private final Cpu cpu;
    private final Store store = new Store();
    private final Domain tpmDomain;
    private final TpmBack back;
    private final Domain[] guests;
    private final Vtpm[] tpms;
    private final TpmFront[] fronts;
    /** With the TPM in the hypervisor: each guest's command page, and its vTPM by domain id. */
    private final long[] commandPage;
    private final Vtpm[] byDomain = new Vtpm[Hypervisor.MAX_DOMAINS];
    private final byte[] hvCommand = new byte[Vtpm.MAX_BUFFER];
    private final byte[] hvResponse = new byte[Vtpm.MAX_BUFFER];
    /** The running dynamic launch: its domain (or null) and the machine frames it keeps from devices. */
    private Domain launching;
    private long[] launchFrames = new long[0];
    private final Vtpm[] vtpmOf = new Vtpm[Hypervisor.MAX_DOMAINS];

    /** A machine with {@code guests} guests (1 to 64), each with its own vTPM at {@code where}. */
    public VtpmHost(MachineConfig config, Where where, int guests) {
        if (guests < 1 || guests > 64) {
            throw new IllegalArgumentException("guests: " + guests + "; allowed 1 to 64");
        }
        this.where = where;
        machine = new Machine(config);
        hv = new Hypervisor(machine);
        cpu = machine.newCpu("cpu0");
        hv.attach(cpu);
        // The hypercalls the split driver needs: grant tables and event channels.
        new GrantOps(hv);
        new EventChannels(hv);
        this.guests = new Domain[guests];
        tpms = new Vtpm[guests];
        fronts = new TpmFront[guests];
        commandPage = new long[guests];
        if (where == Where.HYPERVISOR) {
            hv.registerHypercall(Hypercall.TPM_OP, this::tpmHypercall);
        }
        hv.registerHypercall(Hypercall.LATE_LAUNCH, this::lateLaunch);
        if (where == Where.TPM_DOMAIN) {
            // The TPM domain first: every guest's TPM is there before the guest's first instruction.
            tpmDomain = hv.createDomain("tpm", "tpm", TPM_DOMAIN_BYTES, false);
            cpu.start(tpmDomain.kernel());
            DomainMemory tm = new DomainMemory(tpmDomain, machine.memory());
            back = new TpmBack(hv, tm, machine.memory(), events(tpmDomain), store);
        } else {
            tpmDomain = null;
            back = null;
        }
        for (int i = 0; i < guests; i++) {
            Domain g = hv.createDomain("guest-" + i, "guest", GUEST_BYTES, false);
            this.guests[i] = g;
            tpms[i] = new Vtpm();
            vtpmOf[g.id()] = tpms[i];
            if (where == Where.TPM_DOMAIN) {
                cpu.start(g.kernel());
                DomainMemory gm = new DomainMemory(g, machine.memory());
                EventDispatcher ev = events(g);
                GrantTable grants = new GrantTable(machine.memory(), cpu.view(g.space()), gm.allocate(1), 1);
                long r = hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_SETUP, grants.tableGpa(), 1, 0);
                if (r < 0) {
                    throw new IllegalStateException(g + " cannot set up its grant table: " + Errno.name(r));
                }
                fronts[i] = new TpmFront(cpu, hv, gm, grants, ev, store, tpmDomain.id());
                cpu.start(tpmDomain.kernel());
                long c = back.connect(cpu, g, tpms[i], 0);
                if (c < 0) {
                    throw new IllegalStateException("the TPM domain cannot connect " + g + ": " + Errno.name(c));
                }
            }
            if (where == Where.HYPERVISOR) {
                byDomain[g.id()] = tpms[i];
                commandPage[i] = new DomainMemory(g, machine.memory()).allocate(1);
            }
            cpu.start(g.app());
        }
        cpu.start(this.guests[0].app());
    }

    private EventDispatcher events(Domain d) {
        EventDispatcher e = new EventDispatcher(hv, d, machine.memory(), cpu.view(d.space()), d.sharedInfoGpa(),
            IoPartitionPlacement.EVENT_ROUNDS);
        d.setVirqHandler(e);
        return e;
    }

    /**
     * Guest {@code guest}'s application sends the TPM command {@code command[0, length)} at
     * {@code locality}: returns the response's length in {@code response}, or a negative errno
     * ({@code -ETIMEDOUT} when no answer came within {@link #MAX_ROUNDS} deliveries).
     */
    public long command(int guest, byte[] command, int length, int locality, byte[] response) {
        Domain g = guests[guest];
        cpu.start(g.app());
        cpu.switchTo(Crossing.SYSCALL, g.kernel(), "the app asks its kernel's TPM driver");
        long r;
        if (where == Where.GUEST) {
            r = tpms[guest].execute(command, length, locality, response);
        } else if (where == Where.HYPERVISOR) {
            r = viaHypercall(g, commandPage[guest], command, length, locality, response);
        } else {
            TpmFront f = fronts[guest];
            r = f.submit(cpu, command, length, locality);
            for (int round = 0; r == 0 && !f.finished() && round < MAX_ROUNDS; round++) {
                cpu.deliverInterrupts();
            }
            r = r < 0 ? r : f.finished() ? f.response(cpu, response) : -Errno.ETIMEDOUT;
        }
        cpu.switchTo(Crossing.SYSRET, g.app(), "the kernel returns the TPM's response to the app");
        return r;
    }

    private long viaHypercall(Domain g, long page, byte[] command, int length, int locality, byte[] response) {
        if (length < 1 || length > Vtpm.MAX_BUFFER) {
            return -Errno.EINVAL;
        }
        long ma = cpu.translate(g.space(), page, Translation.READ | Translation.WRITE);
        machine.memory().putBytes(ma, command, 0, length);
        long r = hv.hypercall(cpu, Hypercall.TPM_OP, page, length, locality, 0);
        if (r > 0) {
            machine.memory().getBytes(ma, response, 0, (int) r);
        }
        return r;
    }

    /**
     * {@link Hypercall#TPM_OP} in the hypervisor: copies the command in from the caller's page, runs
     * the caller's vTPM at the caller's locality (a guest has only 0: anything else is
     * {@code TPM_RC_LOCALITY}, as the TPM domain's back end answers), copies the response out.
     */
    private long tpmHypercall(Cpu on, Domain caller, long gpa, long length, long locality, long unused) {
        Vtpm t = byDomain[caller.id()];
        if (t == null) {
            return -Errno.ENODEV;
        }
        if (length < 1 || length > Vtpm.MAX_BUFFER || (gpa & (MachineMemory.PAGE_SIZE - 1)) != 0) {
            return -Errno.EINVAL;
        }
        long ma = on.translate(caller.space(), gpa, Translation.READ | Translation.WRITE);
        if (ma < 0) {
            return -Errno.EFAULT;
        }
        machine.memory().getBytes(ma, hvCommand, 0, (int) length);
        int n = locality == 0 ? t.execute(hvCommand, (int) length, 0, hvResponse) : Vtpm.errorResponse(hvResponse, Tpm2.RC_LOCALITY);
        machine.memory().putBytes(ma, hvResponse, 0, n);
        return n;
    }

    /**
     * {@link Hypercall#LATE_LAUNCH}, the hypervisor's emulation of SKINIT for a guest (Perez, van Doorn
     * and Sailer, section III.D): first every frame of the loader is kept from every device
     * ({@link org.hvbench.core.iommu.Iommu#secure}), then the loader is read and hashed (so no DMA can
     * change what is measured), then its SHA-256 goes into PCR 17 of the caller's vTPM at locality 4,
     * which only this path has (the vTPM resets 17 to 22 first). The guest's interrupts are held: the
     * launch runs to its end inside the hypercall, with no delivery point. The protection stays until
     * the loader asks {@code LATE_LAUNCH_END}.
     */
    private long lateLaunch(Cpu on, Domain caller, long op, long gpa, long length, long unused) {
        Vtpm t = vtpmOf[caller.id()];
        if (t == null) {
            return -Errno.ENODEV;
        }
        if (op == Hypercall.LATE_LAUNCH_END) {
            if (launching != caller) {
                return -Errno.EINVAL;
            }
            endLaunch();
            return 0;
        }
        if (op != Hypercall.LATE_LAUNCH_START || length < 1 || length > Hypercall.LATE_LAUNCH_MAX_BYTES
            || (gpa & (MachineMemory.PAGE_SIZE - 1)) != 0) {
            return -Errno.EINVAL;
        }
        if (launching != null) {
            return -Errno.EBUSY;
        }
        int pages = (int) ((length + MachineMemory.PAGE_SIZE - 1) >>> MachineMemory.PAGE_SHIFT);
        long[] frames = new long[pages];
        for (int p = 0; p < pages; p++) {
            long ma = on.translate(caller.space(), gpa + ((long) p << MachineMemory.PAGE_SHIFT), Translation.READ);
            if (ma < 0) {
                return -Errno.EFAULT;
            }
            frames[p] = ma >>> MachineMemory.PAGE_SHIFT;
        }
        for (long mfn : frames) {
            machine.iommu().secure(mfn);
        }
        launching = caller;
        launchFrames = frames;
        java.security.MessageDigest sha256;
        try {
            sha256 = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        byte[] page = new byte[MachineMemory.PAGE_SIZE];
        long left = length;
        for (long mfn : frames) {
            int n = (int) Math.min(left, page.length);
            machine.memory().getBytes(mfn << MachineMemory.PAGE_SHIFT, page, 0, n);
            sha256.update(page, 0, n);
            left -= n;
        }
        if (t.dynamicLaunch(sha256.digest(), 4) != Tpm2.RC_SUCCESS) {
            // The vTPM has not started: nothing was measured, so nothing is kept.
            endLaunch();
            return -Errno.EINVAL;
        }
        return 0;
    }

    /**
     * Event-channel notifications so far between the guests and the TPM domain: one from a front
     * end per command it sent, one back from the TPM domain per command it answered; 0 elsewhere.
     */
    public long notifications() {
        if (back == null) {
            return 0;
        }
        long n = back.served() + back.refused();
        for (TpmFront f : fronts) {
            n += f.commands();
        }
        return n;
    }

    /** Lets devices reach the launch's frames again; no launch holds any after. */
    private void endLaunch() {
        for (long mfn : launchFrames) {
            machine.iommu().unsecure(mfn);
        }
        launching = null;
        launchFrames = new long[0];
    }

    /** The domain whose dynamic launch holds frames now, or null. */
    public Domain launching() {
        return launching;
    }

    /**
     * The toolstack measures guest {@code guest}'s boot into its vTPM before the guest runs
     * ({@link MeasuredBoot}: firmware, kernel image, configuration, separators) and returns the event log.
     *
     * @throws IllegalStateException when the guest's vTPM has run a command already
     */
    public EventLog measuredBoot(int guest, byte[] kernel, byte[] config) {
        return MeasuredBoot.measure(tpms[guest], kernel, config);
    }

    public Where where() {
        return where;
    }

    public Cpu cpu() {
        return cpu;
    }

    public CrossingTrace trace() {
        return cpu.trace();
    }

    public Machine machine() {
        return machine;
    }

    public Hypervisor hypervisor() {
        return hv;
    }

    /** Guest {@code i}'s vTPM instance (in the TPM domain, or in the guest). */
    public Vtpm vtpm(int i) {
        return tpms[i];
    }

    public Domain guest(int i) {
        return guests[i];
    }

    /** Guest {@code i}'s tpmfront, or null when the TPM is in the guest. */
    public TpmFront front(int i) {
        return fronts[i];
    }

    /** The TPM domain, or null when the TPM is in the guest. */
    public Domain tpmDomain() {
        return tpmDomain;
    }

    /** The TPM domain's back end, or null. */
    public TpmBack back() {
        return back;
    }

    public Store store() {
        return store;
    }

    @Override
    public void close() {
        machine.close();
    }
}
