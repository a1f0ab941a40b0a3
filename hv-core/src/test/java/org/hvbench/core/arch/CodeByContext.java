package org.hvbench.core.arch;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.hvbench.core.cpu.Context;
import org.hvbench.core.cpu.Cpu;

/**
 * Finds which classes run in which context while a placement works: on every entry into a context
 * it notes how deep the Java stack was (the frame that called the CPU to enter it), and on every
 * piece of charged work it takes the frame doing the work and every frame deeper than the current
 * context's entry as that context's code. A return into a context still on the stack keeps its
 * entry; a context whose entering frames have left the stack has ended. Frames of the
 * machine model ({@code cpu}), the executors and the tests are not code of any context.
 */
final class CodeByContext implements Cpu.WorkProbe {
    private final Function<Context, String> kindOf;
    private final Map<String, Set<String>> classes = new TreeMap<>();
    private final Map<String, Set<String>> loose = new TreeMap<>();
    /** Contexts on the stack now, with the depth of the frame their code starts at (innermost last). */
    private final List<Context> entered = new ArrayList<>();
    /** For each, the stack from the outermost frame to the one that entered it. */
    private final List<List<String>> prefixes = new ArrayList<>();

    CodeByContext(Function<Context, String> kindOf) {
        this.kindOf = kindOf;
    }

    /** Kind of context → simple names (package-qualified below {@code org.hvbench.core}) of the classes seen running there. */
    Map<String, Set<String>> classes() {
        return classes;
    }

    /**
     * Kind of context → classes seen doing work in it where its entry was not on the stack (a context
     * the CPU was left in by a turn that ended, or one started in set-up): only the working frame is
     * known, and the model sometimes does a context's last work before it records the switch away.
     */
    Map<String, Set<String>> loose() {
        return loose;
    }

    @Override
    public void entering(Context to, boolean entry) {
        List<String> stack = stack();
        dropReturned(stack);
        int at = entered.lastIndexOf(to);
        if (!entry && at >= 0) {
            // A return into a context still on the stack: everything entered after it has ended.
            while (entered.size() > at + 1) {
                entered.remove(entered.size() - 1);
                prefixes.remove(prefixes.size() - 1);
            }
            return;
        }
        entered.add(to);
        prefixes.add(new ArrayList<>(stack.subList(0, callerDepth(stack) + 1)));
    }

    @Override
    public void running(Context c) {
        List<String> stack = stack();
        dropReturned(stack);
        int at = entered.lastIndexOf(c);
        // A context not entered on this stack (started in set-up, or entered by a party's turn that
        // ended): only the frame doing the work is known to be its code.
        int from = at >= 0 ? prefixes.get(at).size() : Integer.MAX_VALUE;
        String kind = kindOf.apply(c);
        if (kind == null) {
            return;
        }
        // stack.get(0) is the outermost frame. The code doing the work (the innermost frame) and every
        // frame deeper than the one that entered this context are this context's code.
        int top = callerDepth(stack);
        for (int i = Math.min(from, top); i < stack.size(); i++) {
            String n = stack.get(i);
            if ((i >= from || i == top) && isContextCode(n)) {
                (at >= 0 ? classes : loose).computeIfAbsent(kind, k -> new TreeSet<>()).add(n);
            }
        }
    }

    /** Forgets the contexts whose entering frames are no longer on the stack. */
    private void dropReturned(List<String> stack) {
        for (int i = 0; i < entered.size(); i++) {
            List<String> p = prefixes.get(i);
            if (p.size() > stack.size() || !stack.subList(0, p.size()).equals(p)) {
                while (entered.size() > i) {
                    entered.remove(entered.size() - 1);
                    prefixes.remove(prefixes.size() - 1);
                }
                return;
            }
        }
    }

    /** The depth (outermost = 0) of the innermost frame that is not the CPU itself: the code calling it. */
    private static int callerDepth(List<String> stack) {
        for (int i = stack.size() - 1; i >= 0; i--) {
            if (!stack.get(i).startsWith("cpu.")) {
                return i;
            }
        }
        return 0;
    }

    static boolean isContextCode(String n) {
        return !n.startsWith("cpu.") && !n.startsWith("exec.") && !n.startsWith("covert.") && !n.endsWith("Test")
            && !n.contains("Test$") && !n.equals("arch.CodeByContext") && !n.startsWith("arch.TcbProbe");
    }

    /** Frames of org.hvbench.core, outermost first, named below the base package (nested classes folded into their file's class). */
    private static List<String> stack() {
        List<String> inner = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE).walk(s -> s
            .map(f -> f.getDeclaringClass().getName())
            .filter(n -> n.startsWith("org.hvbench.core."))
            .map(n -> {
                String t = n.substring("org.hvbench.core.".length());
                int d = t.indexOf('$');
                return d < 0 ? t : t.substring(0, d);
            })
            .filter(n -> !n.equals("arch.CodeByContext"))
            .collect(Collectors.toList()));
        List<String> out = new ArrayList<>(inner.size());
        for (int i = inner.size() - 1; i >= 0; i--) {
            out.add(inner.get(i));
        }
        return out;
    }
}
