package org.hvbench.core.arch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.hvbench.core.dev.MachineConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Guests side by side: what they share is only the driver, and the toolstack's view shows nothing else. */
class TenantsTest {
    @ParameterizedTest
    @EnumSource(value = Placement.class, names = "NATIVE", mode = EnumSource.Mode.EXCLUDE)
    void twoGuestsShareNoFrameGrantOrEventChannel(Placement p) {
        try (Tenants t = Tenants.open(p, MachineConfig.defaults(), 2, 4)) {
            assertEquals(List.of(), t.sharedBetween(0, 1));
            assertNotSame(t.guest(0).domain(), t.guest(1).domain());
            if (t.sharedDriver()) {
                assertSame(t.guest(0).path().machine().device(), t.guest(1).path().machine().device(), "one device behind one driver");
            } else {
                assertNotSame(t.guest(0).path().machine().device(), t.guest(1).path().machine().device(), "a device each");
            }
        }
    }

    /** The view can see sharing: a grant from one guest to the other shows. */
    @Test
    void aGrantBetweenTheGuestsShows() {
        try (Tenants t = Tenants.open(Placement.IO_PARTITION, MachineConfig.defaults(), 2, 4)) {
            Tenants.Guest a = t.guest(0);
            int ref = a.grants().allocate();
            t.guest(0).cpu().start(a.domain().kernel());
            assertEquals(0, a.grants().grant(ref, t.guest(1).domain().id(), 0, true));
            List<String> shared = t.sharedBetween(0, 1);
            assertEquals(1, shared.size(), shared.toString());
            assertTrue(shared.get(0).contains("grants reference " + ref), shared.get(0));
        }
    }

    @Test
    void nativeHasNoGuests() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> Tenants.open(Placement.NATIVE, MachineConfig.defaults(), 2, 1));
        assertTrue(e.getMessage().startsWith("placement: native"), e.getMessage());
        assertFalse(Placement.PASSTHROUGH.open(MachineConfig.defaults(), 1) == null);
    }
}
