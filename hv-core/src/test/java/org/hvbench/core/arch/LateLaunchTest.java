package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.DomainMemory;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.hvbench.core.tpm.Tpm2;
import org.hvbench.core.tpm.TpmCommands;
import org.hvbench.core.tpm.Vtpm;
import org.junit.jupiter.api.Test;

/**
 * A guest's dynamic launch (LATE_LAUNCH): the loader's frames kept from every device while it is
 * measured and until it says so, its SHA-256 in PCR 17 of the guest's vTPM, PCRs 18 to 22 zero, and
 * no software path that reaches locality 4 otherwise.
 */
class LateLaunchTest {
    private static final int LOADER_BYTES = 3 * MachineMemory.PAGE_SIZE + 100;
    private final byte[] cmd = new byte[Vtpm.MAX_BUFFER];
    private final byte[] rsp = new byte[Vtpm.MAX_BUFFER];

    private static long launch(VtpmHost h, long op, long gpa, long length) {
        Cpu cpu = h.cpu();
        cpu.start(h.guest(0).kernel());
        return h.hypervisor().hypercall(cpu, Hypercall.LATE_LAUNCH, op, gpa, length, 0);
    }

    @Test
    void theLoaderIsKeptFromDevicesMeasuredIntoPcr17AndReleasedOnlyWhenItSaysSo() throws Exception {
        try (VtpmHost h = new VtpmHost(MachineConfig.defaults().memory(64L << 20), VtpmHost.Where.TPM_DOMAIN, 1)) {
            assertEquals(10, h.command(0, cmd, TpmCommands.startup(cmd), 0, rsp));
            Domain g = h.guest(0);
            DomainMemory memory = new DomainMemory(g, h.cpu().memory());
            long loader = memory.allocateContiguous(4);
            byte[] code = new byte[LOADER_BYTES];
            for (int i = 0; i < code.length; i++) {
                code[i] = (byte) (i * 13 + 5);
            }
            memory.hostWrite(loader, code, 0, code.length);
            Iommu iommu = h.machine().iommu();
            iommu.attachIdentity(Machine.BLOCK_DEVICE_ID);
            long lastPage = h.cpu().translate(g.space(), loader + 3L * MachineMemory.PAGE_SIZE, Translation.READ);
            assertTrue(iommu.translate(Machine.BLOCK_DEVICE_ID, lastPage, Translation.WRITE) >= 0, "before: the device reaches the page");

            assertEquals(0, launch(h, Hypercall.LATE_LAUNCH_START, loader, LOADER_BYTES));
            assertEquals(g, h.launching());
            for (int p = 0; p < 4; p++) {
                long ma = h.cpu().translate(g.space(), loader + (long) p * MachineMemory.PAGE_SIZE, Translation.READ);
                assertEquals(-Errno.EFAULT, iommu.translate(Machine.BLOCK_DEVICE_ID, ma + 8, Translation.WRITE),
                    "a device's DMA into loader page " + p + " during the launch");
            }
            long other = h.cpu().translate(g.space(), memory.allocate(1), Translation.READ);
            assertTrue(iommu.translate(Machine.BLOCK_DEVICE_ID, other, Translation.WRITE) >= 0, "the guest's other pages stay reachable");

            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(new byte[32]);
            sha.update(MessageDigest.getInstance("SHA-256").digest(code));
            assertArrayEquals(sha.digest(), h.vtpm(0).pcrs().value(17), "PCR 17 = H(0 || H(loader))");
            for (int pcr = 18; pcr <= 22; pcr++) {
                assertArrayEquals(new byte[32], h.vtpm(0).pcrs().value(pcr), "PCR " + pcr + " reset by the launch");
            }
            assertEquals(-Errno.EBUSY, launch(h, Hypercall.LATE_LAUNCH_START, loader, LOADER_BYTES), "one launch at a time");

            assertEquals(0, launch(h, Hypercall.LATE_LAUNCH_END, 0, 0));
            assertNull(h.launching());
            assertTrue(iommu.translate(Machine.BLOCK_DEVICE_ID, lastPage, Translation.WRITE) >= 0, "after: the loader released its pages");
        }
    }

    @Test
    void softwareBelowLocality4NeverResetsOrExtendsPcr17ThroughTheBackEnd() throws Exception {
        try (VtpmHost h = new VtpmHost(MachineConfig.defaults().memory(64L << 20), VtpmHost.Where.TPM_DOMAIN, 1)) {
            h.command(0, cmd, TpmCommands.startup(cmd), 0, rsp);
            byte[] before = h.vtpm(0).pcrs().value(17);
            for (int locality = 0; locality <= 3; locality++) {
                h.command(0, cmd, TpmCommands.pcrReset(cmd, 17), locality, rsp);
                assertEquals(Tpm2.RC_LOCALITY, TpmCommands.rc(rsp), "reset at " + locality);
                h.command(0, cmd, TpmCommands.pcrExtend(cmd, 17, new byte[32]), locality, rsp);
                assertEquals(Tpm2.RC_LOCALITY, TpmCommands.rc(rsp), "extend at " + locality);
            }
            assertArrayEquals(before, h.vtpm(0).pcrs().value(17));
        }
    }

    @Test
    void aBadLaunchIsRefusedAndKeepsNothing() {
        try (VtpmHost h = new VtpmHost(MachineConfig.defaults().memory(64L << 20), VtpmHost.Where.TPM_DOMAIN, 1)) {
            DomainMemory memory = new DomainMemory(h.guest(0), h.cpu().memory());
            long loader = memory.allocateContiguous(1);
            assertEquals(-Errno.EINVAL, launch(h, Hypercall.LATE_LAUNCH_START, loader, 1), "the vTPM has not started");
            assertNull(h.launching());
            h.command(0, cmd, TpmCommands.startup(cmd), 0, rsp);
            assertEquals(-Errno.EINVAL, launch(h, Hypercall.LATE_LAUNCH_START, loader + 8, 64), "a loader not page-aligned");
            assertEquals(-Errno.EINVAL, launch(h, Hypercall.LATE_LAUNCH_START, loader, Hypercall.LATE_LAUNCH_MAX_BYTES + 1), "past 64 KiB");
            assertEquals(-Errno.EINVAL, launch(h, Hypercall.LATE_LAUNCH_START, loader, 0));
            assertEquals(-Errno.EFAULT, launch(h, Hypercall.LATE_LAUNCH_START, 1L << 40, 4096), "a loader outside the guest");
            assertEquals(-Errno.EINVAL, launch(h, Hypercall.LATE_LAUNCH_END, 0, 0), "no launch to end");
            assertEquals(-Errno.EINVAL, launch(h, 7, loader, 64), "an unknown operation");
            assertNull(h.launching());
        }
    }
}
