package org.hvbench.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/policy.sh: compile, show and check, and what it says about a bad source. */
class PolicyToolTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        out.reset();
        err.reset();
        return PolicyTool.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private static Path example() {
        Path p = Paths.get("../docs/policies/customers.policy");
        return Files.exists(p) ? p : Paths.get("docs/policies/customers.policy");
    }

    @Test
    void theExampleCompilesAndTheBinaryShowsAsTheSourceDoes(@TempDir Path dir) throws Exception {
        Path bin = dir.resolve("customers.bin");
        assertEquals(0, run("compile", example().toString(), "-o", bin.toString()), err.toString(StandardCharsets.UTF_8));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("policy customers (chwall+ste), 5 labels"), out.toString());
        assertEquals(0, run("show", example().toString()));
        String fromSource = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, run("show", bin.toString()));
        assertEquals(fromSource, out.toString(StandardCharsets.UTF_8));
        assertTrue(fromSource.contains("conflict A B\n") && fromSource.contains("label customer-a ste A chwall A\n"), fromSource);
        assertEquals(0, run("check", bin.toString()));
    }

    @Test
    void aBadSourceIsNamedWithItsLine(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.policy");
        Files.writeString(bad, "policy p\nkind ste\nste-types A\nlabel x ste B\n");
        assertEquals(1, run("check", bad.toString()));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("line 4: type 'B' is not declared"), e);
        assertEquals(2, run("frobnicate", bad.toString()));
        assertEquals(1, run("show", dir.resolve("missing").toString()));
    }
}
