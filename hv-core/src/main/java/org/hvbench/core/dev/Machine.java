package org.hvbench.core.dev;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.cpu.CostPart;
import org.hvbench.core.cpu.CostProfile;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.cpu.CrossingTrace;
import org.hvbench.core.iommu.InvalidationMode;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Tlb;

/**
 * The hardware: machine memory and its frame allocator, one block device with its backing, the IOMMU
 * every DMA goes through, and the CPUs made for it. Software (a native kernel, or a hypervisor and its domains)
 * is built on top. Address-space ids are handed out here so every TLB tag on the machine is unique.
 */
public final class Machine implements AutoCloseable {
    public static final int BLOCK_DEVICE_ID = 1;

    private final MachineConfig config;
    private final MachineMemory memory;
    private final FrameAllocator frames;
    private final CostProfile profile;
    private final BlockBacking backing;
    private final Iommu iommu;
    private final BlockDevice device;
    private final List<Cpu> cpus = new ArrayList<>();
    private int nextAsid = 1;

    public Machine(MachineConfig config) {
        if (MachineConfig.IOMMU_SYSTEM.equals(config.iommu())) {
            throw new IllegalArgumentException("iommu: 'system' is chosen by a placement when it opens; a machine built"
                + " on its own needs on, off or exclusion");
        }
        this.config = config;
        this.profile = CostProfile.load(config.costProfile());
        this.memory = new MachineMemory(config.memoryBytes());
        this.frames = new FrameAllocator(memory);
        this.backing = config.diskFile() == null
            ? new RamDisk(config.diskBytes())
            : new FileDisk(config.diskFile(), config.diskBytes());
        this.iommu = new Iommu(memory, profile, new Tlb(config.iotlbSets(), config.iotlbWays(), true),
            InvalidationMode.parse(config.iommuInvalidation()), config.iommuBatch(), 1024);
        this.device = new BlockDevice("block0", BLOCK_DEVICE_ID, memory, backing, iommu, profile);
        if ("exclusion".equals(config.iommu())) {
            // The exclusion vector keeps every device away from the hypervisor's own frames.
            iommu.attachExclusion(BLOCK_DEVICE_ID);
            frames.setOwnerListener((mfn, owner) -> {
                if (owner == FrameAllocator.OWNER_HYPERVISOR) {
                    iommu.exclude(mfn);
                } else {
                    iommu.include(mfn);
                }
            });
        }
    }

    /** A new CPU with its own TLB, as configured. */
    public Cpu newCpu(String name) {
        Tlb tlb = new Tlb(config.tlbSets(), config.tlbWays(), config.tlbTagged());
        Cpu cpu = new Cpu(cpus.size(), name, memory, tlb, profile, new CrossingTrace(config.traceCapacity()));
        cpus.add(cpu);
        return cpu;
    }

    /** Modelled time of the device and the IOMMU, picoseconds. */
    public long devicePicos() {
        return device.clock().picos() + iommu.clock().picos();
    }

    /** The part of {@link #devicePicos} charged to {@code part}. */
    public long devicePicos(CostPart part) {
        return device.clock().picos(part) + iommu.clock().picos(part);
    }

    /** The CPUs made so far, by id. */
    public List<Cpu> cpus() {
        return List.copyOf(cpus);
    }

    /** A fresh address-space id (TLB tag). */
    public int newAsid() {
        return nextAsid++;
    }

    public MachineConfig config() {
        return config;
    }

    public MachineMemory memory() {
        return memory;
    }

    public FrameAllocator frames() {
        return frames;
    }

    public CostProfile profile() {
        return profile;
    }

    public BlockBacking backing() {
        return backing;
    }

    /**
     * The IOMMU. Every device starts in identity (untranslated) mode; with {@code iommu=on} the
     * placement attaches the device to a table when it gives the device to its driver.
     */
    public Iommu iommu() {
        return iommu;
    }

    public BlockDevice device() {
        return device;
    }

    @Override
    public void close() {
        backing.close();
        memory.close();
    }
}
