package org.hvbench.core.hv;

import org.hvbench.core.cpu.Cpu;

/**
 * What handles a domain's trapped start-I/O of a channel program ({@link VmExit#START_IO}): the
 * hypervisor copying, checking and relocating the chain ({@link HypervisorBlockDriver}), or handing
 * the guest's own chain to a device the IOMMU confines to the guest ({@link DirectChannel}). Runs in
 * the hypervisor's context.
 */
@FunctionalInterface
public interface ChannelHandler {
    /**
     * @param chainGpa guest-physical address of the chain's first command
     * @param statusGpa guest-physical address of the 8-byte channel status written when the chain ends
     * @return 0 when the chain was started, or a negative errno (the condition code; nothing moved)
     */
    long startIo(Cpu cpu, Domain domain, long chainGpa, long statusGpa);
}
