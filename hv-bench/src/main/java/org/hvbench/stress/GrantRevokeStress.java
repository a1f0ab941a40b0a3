package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.Errno;
import org.hvbench.core.grant.GrantEntry;
import org.hvbench.core.grant.GrantTable;
import org.hvbench.core.mem.MachineMemory;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * The granter revokes a grant while the hypervisor pins it for a mapping: exactly one of them wins.
 */
@JCStressTest
@Description("A grant is never both revoked and mapped.")
@Outcome(id = "0, -16", expect = ACCEPTABLE, desc = "mapped first; the revocation is refused with EBUSY")
@Outcome(id = "-13, 0", expect = ACCEPTABLE, desc = "revoked first; the map is refused with EACCES")
@Outcome(expect = FORBIDDEN, desc = "both succeeded (a revoked frame mapped) or neither did")
@State
public class GrantRevokeStress {
    private static final int MAPPER = 7;
    private final MachineMemory memory = StressMemory.MEMORY;
    private final GrantTable table;
    private final long entry;
    private final int ref;

    public GrantRevokeStress() {
        long page = StressMemory.page();
        table = new GrantTable(memory, StressMemory.IDENTITY, page, 1);
        ref = table.allocate();
        table.grant(ref, MAPPER, 42, false);
        entry = page + (long) ref * GrantEntry.BYTES;
    }

    @Actor
    public void hypervisor(II_Result r) {
        r.r1 = GrantEntry.pin(memory, entry, MAPPER, true);
    }

    @Actor
    public void granter(II_Result r) {
        r.r2 = table.revoke(ref);
    }

    static {
        if (Errno.EBUSY != 16 || Errno.EACCES != 13) {
            throw new AssertionError("outcome ids assume Linux errno numbers");
        }
    }
}
