package org.hvbench.core.guest;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.mem.AddressSpace;
import org.hvbench.core.mem.MachineMemory;

/**
 * A guest kernel's memory: the guest-physical space its hypervisor populated. Pages are handed out
 * from guest frame 1 up (frame 0 stays unused, as a null page). A device is told guest-physical
 * addresses: the guest believes them physical, and the hypervisor or the IOMMU translates.
 */
public final class DomainMemory extends OsMemory {
    private final Domain domain;
    private long nextGfn = 1;

    public DomainMemory(Domain domain, MachineMemory memory) {
        super(memory);
        this.domain = domain;
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
        return allocate(pages);
    }

    @Override
    public long busAddress(Cpu cpu, long va, int access) {
        return va >= 0 && va < domain.memoryBytes() ? va : -Errno.EFAULT;
    }
}
