package org.hvbench.core.guest;

import java.util.ArrayList;
import java.util.List;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.MachineMemory;

/**
 * A guest kernel's memory: the guest-physical space its hypervisor populated. Pages are handed out
 * from guest frame 1 up (frame 0 stays unused, as a null page); pages of the mapping window, where
 * grant and foreign mappings go, are handed out by {@link #allocateWindow}.
 *
 * <p>What a device is told depends on who drives it. A guest that reaches devices only through the
 * hypervisor (or an IOMMU) tells guest-physical addresses, which are translated for it. A partition
 * that drives a device itself without an IOMMU must tell machine addresses, which it knows from its
 * own p2m, as a paravirtual dom0 does ({@code machineBusAddresses}).
 */
public final class DomainMemory extends OsMemory {
    private final Domain domain;
    private final Hypervisor hypervisor;
    private final boolean machineBusAddresses;
    private long nextGfn = 1;
    private long nextWindowPage;
    /** Window extents handed back, as {first page, pages}: reused first fit before the window grows. */
    private final List<long[]> freeWindow = new ArrayList<>();

    /** A guest's memory: devices are told guest-physical addresses. */
    public DomainMemory(Domain domain, MachineMemory memory) {
        super(memory);
        this.domain = domain;
        this.hypervisor = null;
        this.machineBusAddresses = false;
    }

    /**
     * A partition's memory: it drives devices itself and tells them machine addresses; its DMA
     * regions are made machine-contiguous by {@code hypervisor}.
     */
    public DomainMemory(Domain domain, MachineMemory memory, Hypervisor hypervisor) {
        super(memory);
        this.domain = domain;
        this.hypervisor = hypervisor;
        this.machineBusAddresses = true;
    }

    /** {@code pages} consecutive pages of the mapping window (empty until something is mapped there). */
    public long allocateWindow(int pages) {
        for (int i = 0; pages > 0 && i < freeWindow.size(); i++) {
            long[] extent = freeWindow.get(i);
            if (extent[1] >= pages) {
                long gpa = domain.windowStart() + (extent[0] << MachineMemory.PAGE_SHIFT);
                extent[0] += pages;
                extent[1] -= pages;
                if (extent[1] == 0) {
                    freeWindow.remove(i);
                }
                return gpa;
            }
        }
        if (pages < 1 || nextWindowPage + pages > Domain.WINDOW_PAGES) {
            throw new IllegalStateException("the mapping window of " + domain + " has no " + pages + " more pages");
        }
        long gpa = domain.windowStart() + (nextWindowPage << MachineMemory.PAGE_SHIFT);
        nextWindowPage += pages;
        return gpa;
    }

    /**
     * Hands back {@code pages} window pages from {@code gpa} (set-up or tear-down, not a hot path):
     * nothing may be mapped there any more; a later {@link #allocateWindow} may hand them out again.
     */
    public void releaseWindow(long gpa, int pages) {
        long first = (gpa - domain.windowStart()) >> MachineMemory.PAGE_SHIFT;
        if (pages < 1 || (gpa & MachineMemory.PAGE_MASK) != 0 || first < 0 || first + pages > nextWindowPage) {
            throw new IllegalArgumentException("releaseWindow: " + pages + " pages at " + Long.toHexString(gpa)
                + " are not pages of " + domain + "'s window handed out");
        }
        for (long[] extent : freeWindow) {
            if (first < extent[0] + extent[1] && extent[0] < first + pages) {
                throw new IllegalArgumentException("releaseWindow: pages at " + Long.toHexString(gpa) + " are free already");
            }
        }
        freeWindow.add(new long[] {first, pages});
    }

    /** Pages of the mapping window handed out so far (the high-water mark). */
    public long windowPages() {
        return nextWindowPage;
    }

    public Domain domain() {
        return domain;
    }

    @Override
    public AddressSpace space() {
        return domain.space();
    }

    @Override
    public long allocate(int pages) {
        if (pages < 1 || nextGfn + pages > domain.pages()) {
            throw new IllegalStateException("memory: domain " + domain.name() + " has " + (domain.pages() - nextGfn)
                + " free pages, " + pages + " asked; give the domain more memory");
        }
        long gpa = nextGfn << MachineMemory.PAGE_SHIFT;
        nextGfn += pages;
        return gpa;
    }

    @Override
    public long allocateContiguous(int pages) {
        long gpa = allocate(pages);
        if (machineBusAddresses && pages > 1) {
            int r = hypervisor.exchangeContiguous(domain, gpa, pages);
            if (r < 0) {
                throw new IllegalStateException("memory: no " + pages + " machine-contiguous frames for a DMA region of "
                    + domain + ": " + Errno.name(r));
            }
        }
        return gpa;
    }

    @Override
    public long busAddress(Cpu cpu, long va, int access) {
        if (machineBusAddresses) {
            return cpu.translate(domain.space(), va, access);
        }
        // Guest-physical: RAM, or the mapping window (granted or foreign pages, reachable by a device
        // whose IOMMU context is this domain's p2m).
        return va >= 0 && (va < domain.memoryBytes() || domain.inWindow(va)) ? va : -Errno.EFAULT;
    }
}
