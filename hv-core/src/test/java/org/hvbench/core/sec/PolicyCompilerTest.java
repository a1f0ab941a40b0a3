package org.hvbench.core.sec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

/** The policy source's compiler and the binary form the hypervisor reads. */
class PolicyCompilerTest {
    static final String CUSTOMERS = String.join("\n",
        "# three customers; A and B compete",
        "policy customers",
        "kind chwall+ste",
        "ste-types dom0 A B C",
        "chwall-types A B C",
        "conflict A B",
        "label dom0 ste dom0 A B C",
        "label partition ste A B C",
        "label A ste A chwall A",
        "label B ste B chwall B",
        "label C ste C chwall C",
        "");

    @Test
    void aSourceCompilesToLabelsTypesAndConflictSets() throws Exception {
        Policy p = PolicyCompiler.compile(CUSTOMERS);
        assertEquals("customers", p.name());
        assertEquals(Policy.Kind.CHWALL_STE, p.kind());
        assertEquals(5, p.labels().size());
        assertTrue(p.mayShare(p.label("A"), p.label("partition")), "a customer shares with the partition that serves it");
        assertFalse(p.mayShare(p.label("A"), p.label("B")), "customers share no STE type");
        assertFalse(p.mayRun(p.label("B"), p.label("A").chwallTypes()), "B may not run beside A: one conflict set");
        assertTrue(p.mayRun(p.label("C"), p.label("A").chwallTypes()), "C conflicts with nobody");
        assertTrue(p.mayRun(p.label("A"), p.label("A").chwallTypes()), "a second A is the same company");
        assertEquals(java.util.List.of("A"), p.conflictsWith(p.label("B"), p.label("A").chwallTypes()));
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(CUSTOMERS.getBytes(StandardCharsets.UTF_8)), p.sourceSha256());
    }

    @Test
    void theBinaryFormRoundTripsAndStartsWithItsHeader() throws Exception {
        Policy p = PolicyCompiler.compile(CUSTOMERS);
        byte[] bin = BinaryPolicy.encode(p);
        ByteBuffer b = ByteBuffer.wrap(bin).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(BinaryPolicy.MAGIC, b.getInt(0));
        assertEquals(1, b.getShort(4));
        assertEquals(3, b.getShort(6), "STE | Chinese Wall");
        assertEquals(bin.length, b.getInt(40));
        Policy q = BinaryPolicy.decode(ByteBuffer.wrap(bin));
        assertEquals(p.name(), q.name());
        assertEquals(p.kind(), q.kind());
        assertEquals(p.steTypes(), q.steTypes());
        assertEquals(p.chwallTypes(), q.chwallTypes());
        assertArrayEquals(p.conflictSets(), q.conflictSets());
        assertArrayEquals(p.sourceSha256(), q.sourceSha256());
        assertEquals(p.labels().keySet(), q.labels().keySet());
        for (String l : p.labels().keySet()) {
            assertEquals(p.label(l).steTypes(), q.label(l).steTypes());
            assertEquals(p.label(l).chwallTypes(), q.label(l).chwallTypes());
        }
    }

    @Test
    void everyCorruptionOfTheBinaryIsRefusedWithWhatIsWrong() throws Exception {
        byte[] bin = BinaryPolicy.encode(PolicyCompiler.compile(CUSTOMERS));
        assertRefused(Arrays.copyOf(bin, 20), "shorter than its 44-byte header");
        byte[] magic = bin.clone();
        magic[0] = 'X';
        assertRefused(magic, "bad magic");
        byte[] version = bin.clone();
        version[4] = 2;
        assertRefused(version, "version 2");
        assertRefused(Arrays.copyOf(bin, bin.length + 1), "length field");
        byte[] cut = Arrays.copyOf(bin, bin.length - 3);
        ByteBuffer.wrap(cut).order(ByteOrder.LITTLE_ENDIAN).putInt(40, cut.length);
        assertRefused(cut, "ends inside a field");
        // The last label's Chinese Wall mask names a type that was never declared.
        byte[] undeclared = bin.clone();
        ByteBuffer.wrap(undeclared).order(ByteOrder.LITTLE_ENDIAN).putLong(bin.length - 8, 1L << 40);
        assertRefused(undeclared, "undeclared types");
        // Every single-byte change is either refused with a message or still a valid policy; nothing throws otherwise.
        for (int i = 0; i < bin.length; i++) {
            byte[] flip = bin.clone();
            flip[i] ^= (byte) 0x5a;
            try {
                BinaryPolicy.decode(ByteBuffer.wrap(flip));
            } catch (PolicyException e) {
                assertTrue(e.getMessage().startsWith("binary policy: "), e.getMessage());
            }
        }
    }

    private static void assertRefused(byte[] bin, String what) {
        PolicyException e = assertThrows(PolicyException.class, () -> BinaryPolicy.decode(ByteBuffer.wrap(bin)));
        assertTrue(e.getMessage().contains(what), e.getMessage());
    }

    @Test
    void aBadSourceIsRefusedWithItsLineAndWhatIsWrong() {
        assertError("kind ste\n", 1, "the source must begin with 'policy NAME'");
        assertError("policy p\nkind ste\nfrobnicate x\n", 3, "unknown directive 'frobnicate'");
        assertError("policy p\nkind maybe\n", 2, "kind 'maybe' is unknown");
        assertError("policy p\nkind ste\nste-types A A\n", 3, "type 'A' is declared twice");
        assertError("policy p\nkind ste\nste-types A\nlabel x ste B\n", 4, "type 'B' is not declared");
        assertError("policy p\nkind chwall\nchwall-types A B\nconflict A\n", 4, "two or more");
        assertError("policy p\nkind chwall\nchwall-types A B\nconflict A B\nlabel x chwall A B\n", 5, "two types of one conflict set");
        assertError("policy p\nkind ste\nste-types A\nlabel x A\n", 4, "say 'ste' or 'chwall'");
        assertError("policy p\nkind ste\nste-types A\nlabel x ste A\nlabel x ste A\n", 5, "label 'x' is defined twice");
        assertError("policy p\nkind ste\nste-types b@d\n", 3, "'b@d' is not a name");
        assertError("policy p\n", 0, "no 'kind' line");
        assertError("# nothing\n", 0, "no 'policy NAME' line");
    }

    private static void assertError(String source, int line, String what) {
        PolicyException e = assertThrows(PolicyException.class, () -> PolicyCompiler.compile(source));
        assertEquals(line, e.line(), e.getMessage());
        assertTrue(e.getMessage().contains(what), e.getMessage());
    }
}
