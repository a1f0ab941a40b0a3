package org.hvbench.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.hvbench.core.Errno;
import org.hvbench.core.sec.AccessControlModule;
import org.hvbench.core.sec.Policy;
import org.hvbench.core.sec.PolicyCompiler;
import org.hvbench.core.sec.PolicyException;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A sharing decision (which caches its permit) races the Policy Manager's load of a policy that
 * forbids the sharing. Whichever policy the decision saw, the cache must not answer for the new
 * policy with the old permit: after both, the cache holds no permit for the pair and a fresh decision
 * refuses. Clearing the cache on a load is not enough on its own: the decision's write can land
 * after the clear, which is why every entry carries the epoch of the policy that permitted it.
 */
@JCStressTest
@Description("A permit decided under an old policy never answers for the new one.")
@Outcome(id = "0, 0, 0, -13", expect = ACCEPTABLE, desc = "decided under the old policy; the new one refuses afterwards")
@Outcome(id = "-13, 0, 0, -13", expect = ACCEPTABLE, desc = "decided under the new policy")
@Outcome(expect = FORBIDDEN, desc = "a permit of the old policy cached for the new one, or the load failed")
@State
public class DecisionRevocationStress {
    private static final Policy SHARING = compile("label a ste t\nlabel b ste t\n");
    private static final Policy APART = compile("label a ste t\nlabel b ste u\n");
    private static final int A = 1;
    private static final int B = 2;

    private final AccessControlModule acm = new AccessControlModule(SHARING);

    private static Policy compile(String labels) {
        try {
            return PolicyCompiler.compile("policy stress\nkind ste\nste-types t u\n" + labels);
        } catch (PolicyException e) {
            throw new AssertionError(e);
        }
    }

    @Actor
    public void decision(IIII_Result r) {
        r.r1 = acm.decide(A, "a", B, "b");
    }

    @Actor
    public void policyManager(IIII_Result r) {
        r.r2 = acm.load(APART);
    }

    @Arbiter
    public void after(IIII_Result r) {
        r.r3 = acm.cachedPermit(A, B) || acm.cachedPermit(B, A) ? 1 : 0;
        r.r4 = acm.decide(A, "a", B, "b");
    }

    static {
        if (Errno.EACCES != 13) {
            throw new AssertionError("outcome ids assume Linux errno numbers");
        }
    }
}
