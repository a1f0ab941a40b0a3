package org.hvbench.core.hv;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.BlockDevice;

/**
 * Start-I/O for a guest that owns its device ({@code channel-program-iommu}): the hypervisor neither
 * copies nor reads the chain; it hands the guest's own chain address to the device, which fetches each
 * command when it reaches it and whose every access, commands and data alike, the IOMMU translates
 * through the guest's p2m. The guest may change what is still ahead in its chain (self-modifying
 * channel programs, which PR/SM could allow once it had an I/O MMU); whatever it writes, the device
 * reaches only the guest's memory.
 *
 * <p>The start-I/O still traps (it is privileged), so a chain costs the same 8 crossings as in the
 * copying variant; what differs is the hypervisor's work per command: none here.
 */
public final class DirectChannel implements ChannelHandler {
    private final Hypervisor hypervisor;
    private final BlockDevice device;
    private long started;
    private long refused;

    public DirectChannel(Hypervisor hypervisor, BlockDevice device) {
        this.hypervisor = hypervisor;
        this.device = device;
    }

    @Override
    public long startIo(Cpu cpu, Domain domain, long chainGpa, long statusGpa) {
        if (hypervisor.deviceOwner(device.deviceId()) != domain) {
            refused++;
            return -Errno.EPERM;
        }
        if (device.chainBusy()) {
            refused++;
            return -Errno.EBUSY;
        }
        cpu.startDevice(hypervisor.deviceContext(), "the hypervisor starts the guest's own channel program on the device");
        device.mmioWrite(BlockDevice.REG_CHAIN_STATUS, statusGpa);
        long r = device.mmioWrite(BlockDevice.REG_CHAIN, chainGpa);
        if (r < 0) {
            refused++;
            return r;
        }
        started++;
        return 0;
    }

    /** Chains handed to the device. */
    public long started() {
        return started;
    }

    /** Start-I/Os refused (not the device's owner, a chain still running). */
    public long refused() {
        return refused;
    }
}
