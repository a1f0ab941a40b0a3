package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.evtchn.EventPorts;
import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.Vtpm;

/**
 * The TPM domain's back end (Xen's {@code vtpmback} in the vTPM manager's domain; Perez, van Doorn
 * and Sailer, figure 5, right): one connection per guest, each to that guest's own {@link Vtpm}.
 * On a guest's event it reads the shared page ({@link TpmFront} gives the layout), copies the command
 * out of the guest-writable page before looking at it (so the guest cannot change it while it is
 * parsed), runs it on the guest's instance, writes the response, publishes FINISH with a release
 * store and sends an event back. A guest reaches only its own instance: the instance is chosen by the
 * port the event came on, never by anything the guest writes. A guest asking for a locality above the
 * one the toolstack gave it gets {@code TPM_RC_LOCALITY}; a length past the page gets
 * {@code TPM_RC_COMMAND_SIZE}; a CANCEL is answered IDLE (the command ran to its end already).
 */
public final class TpmBack {
    private static final int OPS = 0;

    private final Hypervisor hv;
    private final DomainMemory os;
    private final MachineMemory memory;
    private final EventPorts events;
    private final Store store;
    private final long opsGpa;
    private final Connection[] byPort = new Connection[Hypervisor.MAX_DOMAINS * 8];
    private final byte[] command = new byte[Vtpm.MAX_BUFFER];
    private final byte[] response = new byte[Vtpm.MAX_BUFFER];
    private long served;
    private long refused;

    private static final class Connection {
        final Domain front;
        final Vtpm tpm;
        final long pageGpa;
        final int port;
        final int maxLocality;

        Connection(Domain front, Vtpm tpm, long pageGpa, int port, int maxLocality) {
            this.front = front;
            this.tpm = tpm;
            this.pageGpa = pageGpa;
            this.port = port;
            this.maxLocality = maxLocality;
        }
    }

    /** The back end in the TPM domain whose memory is {@code os}; runs in that domain's kernel. */
    public TpmBack(Hypervisor hv, DomainMemory os, MachineMemory memory, EventPorts events, Store store) {
        this.hv = hv;
        this.os = os;
        this.memory = memory;
        this.events = events;
        this.store = store;
        this.opsGpa = os.allocate(1);
    }

    /**
     * Connects {@code front}'s tpmfront to {@code tpm}: maps its shared page (a grant map hypercall)
     * and binds its event port, from what the front end wrote in the store. {@code maxLocality} is
     * the highest locality the toolstack lets this guest claim (0 for an ordinary guest). Returns 0
     * or the hypercall's negative errno.
     */
    public long connect(Cpu cpu, Domain front, Vtpm tpm, int maxLocality) {
        String dir = TpmFront.directory(front.id());
        int ref = (int) store.read(dir + "ring-ref");
        int frontPort = (int) store.read(dir + "event-channel");
        long pageGpa = os.allocateWindow(1);
        long op = cpu.translate(os.space(), opsGpa + OPS, Translation.READ | Translation.WRITE);
        memory.putLong(op + GrantOps.MAP_HOST, pageGpa);
        memory.putInt(op + GrantOps.MAP_FLAGS, 0);
        memory.putInt(op + GrantOps.MAP_REF, ref);
        memory.putShort(op + GrantOps.MAP_DOM, (short) front.id());
        long r = hv.hypercall(cpu, Hypercall.GRANT_TABLE_OP, Hypercall.GNTTAB_MAP, opsGpa + OPS, 1, 0);
        long status = r < 0 ? r : memory.getShort(op + GrantOps.MAP_STATUS);
        if (status < 0) {
            os.releaseWindow(pageGpa, 1);
            return status;
        }
        long port = hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_BIND_INTERDOMAIN, front.id(), frontPort, 0);
        if (port < 0) {
            return port;
        }
        if (port >= byPort.length) {
            return -Errno.ENOSPC;
        }
        byPort[(int) port] = new Connection(front, tpm, pageGpa, (int) port, maxLocality);
        events.bind((int) port, this::onEvent);
        store.write(dir + Store.BACKEND_STATE, Store.CONNECTED);
        return 0;
    }

    private void onEvent(Cpu cpu, int port) {
        Connection c = port >= 0 && port < byPort.length ? byPort[port] : null;
        if (c == null) {
            return;
        }
        long ma = cpu.translate(os.space(), c.pageGpa, Translation.READ | Translation.WRITE);
        if (ma < 0) {
            return;
        }
        // Acquire: the packet the front end wrote before SUBMIT is seen whole.
        int word = memory.getIntAcquire(ma + TpmFront.STATE);
        int state = word & 0xFF;
        if (state == TpmFront.STATE_CANCEL) {
            memory.putIntRelease(ma + TpmFront.STATE, word & ~0xFF | TpmFront.STATE_IDLE);
            events.send(cpu, port);
            return;
        }
        if (state != TpmFront.STATE_SUBMIT) {
            return;
        }
        int locality = word >>> 8 & 0xFF;
        int extra = word >>> 24 & 0xFF;
        int length = memory.getInt(ma + TpmFront.LENGTH);
        int n;
        if (extra != 0 || length < 0 || length > TpmFront.MAX_PACKET) {
            n = error(Tpm2.RC_COMMAND_SIZE);
            refused++;
        } else if (locality > c.maxLocality) {
            n = error(Tpm2.RC_LOCALITY);
            refused++;
        } else {
            // One copy out of the guest's page: the guest may rewrite it, the vTPM parses this copy.
            memory.getBytes(ma + TpmFront.EXTRA_PAGES, command, 0, length);
            n = c.tpm.execute(command, length, locality, response);
            served++;
        }
        memory.putBytes(ma + TpmFront.EXTRA_PAGES, response, 0, n);
        memory.putInt(ma + TpmFront.LENGTH, n);
        // Release: the response and its length are visible before FINISH.
        memory.putIntRelease(ma + TpmFront.STATE, word & ~0xFF | TpmFront.STATE_FINISH);
        events.send(cpu, port);
    }

    private int error(int rc) {
        return Vtpm.errorResponse(response, rc);
    }

    /** Commands run on an instance so far. */
    public long served() {
        return served;
    }

    /** Commands answered without reaching an instance (bad length, locality above the guest's). */
    public long refused() {
        return refused;
    }
}
