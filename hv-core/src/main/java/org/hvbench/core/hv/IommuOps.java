package org.hvbench.core.hv;

import org.agrona.collections.Int2IntHashMap;
import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.iommu.Iommu;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.PageTable;
import org.hvbench.core.mem.PageWalker;
import org.hvbench.core.mem.Translation;

/**
 * The {@link Hypercall#IOMMU_OP} hypercall: a domain that was given a device manages the device's
 * I/O page table itself, as a guest OS with a paravirtual IOMMU does its DMA mappings.
 *
 * <pre>
 * | a0              | a1     | a2   | a3                  | result                                  |
 * |-----------------|--------|------|---------------------|-----------------------------------------|
 * | IOMMU_OWN_TABLE | device |      |                     | 0: the device now reaches nothing until mapped |
 * | IOMMU_MAP       | device | iova | gpa | permissions   | 0 (4 KiB page; permissions in bits 0-1) |
 * | IOMMU_UNMAP     | device | iova |                     | 0 (invalidated per the IOMMU's mode)    |
 * | IOMMU_FLUSH     |        |      |                     | 0 (deferred invalidations done now)     |
 * </pre>
 *
 * A domain can map only frames it owns: a guest-physical address that leads to a grant mapping, a
 * foreign mapping or the shared-info page is refused with {@code -EPERM}. Frames that stay reachable
 * through the table are counted, and the hypervisor will not take such a frame away from the domain
 * ({@link #ioMapped}); when the table is given up, every mapping goes with it.
 */
final class IommuOps {
    private final Hypervisor hv;
    private final Machine machine;
    private final Iommu iommu;
    private final PageTable[] tables = new PageTable[Iommu.MAX_DEVICES];
    private final int[] tags = new int[Iommu.MAX_DEVICES];
    /** mfn -> number of I/O mappings that reach it (mfns of a machine fit an int). */
    private final Int2IntHashMap ioMappings = new Int2IntHashMap(0);

    IommuOps(Hypervisor hv, Machine machine) {
        this.hv = hv;
        this.machine = machine;
        this.iommu = machine.iommu();
    }

    long hypercall(Cpu cpu, Domain d, long cmd, long device, long iova, long a3) {
        if (cmd == Hypercall.IOMMU_FLUSH) {
            if (!d.ownsDevice()) {
                return -Errno.EPERM;
            }
            iommu.flush();
            return 0;
        }
        if (device < 0 || device >= Iommu.MAX_DEVICES) {
            return -Errno.EINVAL;
        }
        int dev = (int) device;
        if (hv.deviceOwner(dev) != d) {
            return -Errno.EPERM;
        }
        switch ((int) Math.max(-1, Math.min(cmd, Integer.MAX_VALUE))) {
            case Hypercall.IOMMU_OWN_TABLE:
                return ownTable(dev);
            case Hypercall.IOMMU_MAP:
                return map(cpu, d, dev, iova, a3 & ~(long) Translation.PERMISSIONS, (int) a3 & Translation.PERMISSIONS);
            case Hypercall.IOMMU_UNMAP:
                return unmap(dev, iova);
            default:
                return -Errno.EINVAL;
        }
    }

    private long ownTable(int dev) {
        if (tables[dev] != null) {
            return -Errno.EEXIST;
        }
        PageTable table;
        try {
            table = new PageTable(machine.frames(), machine.config().pageTableLevels(), Hypervisor.DOMID_XEN);
        } catch (IllegalStateException noFrame) {
            return -Errno.ENOMEM;
        }
        tables[dev] = table;
        tags[dev] = machine.newAsid();
        iommu.attachTable(dev, table, tags[dev]);
        return 0;
    }

    private long map(Cpu cpu, Domain d, int dev, long iova, long gpa, int permissions) {
        PageTable table = tables[dev];
        if (table == null) {
            return -Errno.ENOENT;
        }
        if (permissions == 0 || (iova & MachineMemory.PAGE_MASK) != 0 || (gpa & MachineMemory.PAGE_MASK) != 0
            || iova < 0 || iova >= table.addressLimit()) {
            return -Errno.EINVAL;
        }
        long ma = cpu.translate(d.space(), gpa, permissions);
        if (ma < 0) {
            return -Errno.EFAULT;
        }
        int mfn = (int) (ma >>> MachineMemory.PAGE_SHIFT);
        if (machine.frames().owner(mfn) != d.id()) {
            return -Errno.EPERM;
        }
        iommu.mapping(tags[dev], iova);
        int r = table.map(iova, ma, PageTable.SHIFT_4K, permissions);
        if (r < 0) {
            return r;
        }
        ioMappings.put(mfn, ioMappings.get(mfn) + 1);
        return 0;
    }

    private long unmap(int dev, long iova) {
        PageTable table = tables[dev];
        if (table == null) {
            return -Errno.ENOENT;
        }
        if ((iova & MachineMemory.PAGE_MASK) != 0 || iova < 0 || iova >= table.addressLimit()) {
            return -Errno.EINVAL;
        }
        long t = table.translate(iova);
        if (t < 0) {
            return -Errno.ENOENT;
        }
        int r = iommu.unmap(table, tags[dev], iova);
        if (r < 0) {
            return r;
        }
        int mfn = (int) (Translation.pageBase(t) >>> MachineMemory.PAGE_SHIFT);
        int left = ioMappings.get(mfn) - 1;
        if (left <= 0) {
            ioMappings.remove(mfn);
        } else {
            ioMappings.put(mfn, left);
        }
        return 0;
    }

    /** The root of the table device {@code dev} of {@code owner} must translate through: its own, or the owner's p2m. */
    long tableRoot(int dev, Domain owner) {
        return tables[dev] != null ? tables[dev].rootMa() : owner.space().table().rootMa();
    }

    /**
     * Audits the tables built here ({@link Hypervisor#audit}): each sits in hypervisor frames, maps 4 KiB
     * pages of frames its device's owner owns, and the count of mappings per frame is the one kept.
     *
     * @return {@code null}, or the first inconsistency
     */
    String audit(Domain[] owners) {
        Int2IntHashMap counted = new Int2IntHashMap(0);
        String[] problem = new String[1];
        for (int dev = 0; dev < tables.length && problem[0] == null; dev++) {
            PageTable table = tables[dev];
            if (table == null) {
                continue;
            }
            Domain owner = owners[dev];
            int device = dev;
            PageWalker.visit(machine.memory(), table.rootMa(), table.levels(), new PageWalker.Visitor() {
                @Override
                public void table(long mfn) {
                    if (problem[0] == null && machine.frames().owner(mfn) != Hypervisor.DOMID_XEN) {
                        problem[0] = "I/O table of device " + device + " in frame " + mfn + " of owner " + machine.frames().owner(mfn);
                    }
                }

                @Override
                public void leaf(long iova, long translation) {
                    int mfn = (int) (Translation.pageBase(translation) >>> MachineMemory.PAGE_SHIFT);
                    counted.put(mfn, counted.get(mfn) + 1);
                    if (problem[0] == null && (owner == null || machine.frames().owner(mfn) != owner.id()
                        || Translation.pageShift(translation) != PageTable.SHIFT_4K)) {
                        problem[0] = "device " + device + ": I/O address 0x" + Long.toHexString(iova) + " reaches frame " + mfn
                            + " of owner " + machine.frames().owner(mfn) + ", not of " + owner;
                    }
                }
            });
        }
        if (problem[0] == null && !counted.equals(ioMappings)) {
            problem[0] = "I/O mappings per frame counted " + ioMappings + " but the tables hold " + counted;
        }
        return problem[0];
    }

    /**
     * Its owner {@code d} is being destroyed: the I/O table it built for device {@code dev}, if any,
     * is freed, and its frames no longer count as reachable through I/O tables.
     */
    void release(int dev, Domain d) {
        PageTable table = tables[dev];
        if (table == null) {
            return;
        }
        tables[dev] = null;
        ioMappings.keySet().removeIf(mfn -> machine.frames().owner(mfn) == d.id());
        table.destroy();
    }

    /** True when device {@code dev} works in an I/O table its owner built here. */
    boolean ownsTable(int dev) {
        return dev >= 0 && dev < tables.length && tables[dev] != null;
    }

    /** True when a device can reach {@code mfn} through an I/O table managed here: it must not change hands. */
    boolean ioMapped(long mfn) {
        return ioMappings.get((int) mfn) > 0;
    }
}
