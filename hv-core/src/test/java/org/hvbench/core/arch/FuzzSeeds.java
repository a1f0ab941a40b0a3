package org.hvbench.core.arch;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.hvbench.core.grant.GrantOps;
import org.hvbench.core.hv.BlockProtocol;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;

/**
 * Writes the committed seed inputs of the fuzz targets, each as the actions it means, in the
 * encoding the targets read ({@link FuzzInput}): a handful per target that reach their interesting
 * paths at once, from which a campaign starts. Not a test; run it after changing a target's encoding:
 *
 * <pre>
 * java -cp hv-core/target/test-classes:hv-core/target/classes org.hvbench.core.arch.FuzzSeeds hv-core/src/test/resources
 * </pre>
 */
public final class FuzzSeeds {
    private static final String PACKAGE = "org/hvbench/core/arch/";
    /** The fuzz targets' attacker of 1 MiB: its mapping window starts after its 256 pages and shared-info page. */
    private static final long WINDOW_1M = 257L << MachineMemory.PAGE_SHIFT;

    private FuzzSeeds() {
    }

    public static void main(String[] args) throws IOException {
        Path root = Paths.get(args.length > 0 ? args[0] : "hv-core/src/test/resources");
        hypervisor(root.resolve(PACKAGE + "HypervisorFuzzTestInputs/anUnprivilegedDomainCannotBreakTheHypervisor"));
        grant(root.resolve(PACKAGE + "GrantFuzzTestInputs/grantOperationsOfAHostileDomainLeakNothing"));
        ring(root.resolve(PACKAGE + "RingFuzzTestInputs/theBackEndAnswersAHostileRingAndNothingElse"));
        iommu(root.resolve(PACKAGE + "IommuFuzzTestInputs/aDeviceOwnerReachesOnlyItsOwnFrames"));
        tpm(root.resolve(PACKAGE + "TpmFuzzTestInputs/aGuestsVtpmAnswersAnyCommandAndChangesOnlyWhatASuccessMay"));
    }

    private static void write(Path dir, String name, FuzzInput.Seed seed) throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("seed-" + name), seed.toBytes());
    }

    private static byte[] pattern(int bytes, int from) {
        byte[] b = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    // ------------------------------------------------------------------ HypervisorFuzzTest

    /** Argument encodings of {@link HypervisorFuzzTest.Fixture#argument}. */
    private static final class H {
        static FuzzInput.Seed page(FuzzInput.Seed s, int page) {
            return s.u8(HypervisorFuzzTest.ARG_PAGE).u8(page);
        }

        static FuzzInput.Seed small(FuzzInput.Seed s, int value) {
            return s.u8(HypervisorFuzzTest.ARG_SMALL).u8(value + 2);
        }

        static FuzzInput.Seed window(FuzzInput.Seed s, int page) {
            return s.u8(HypervisorFuzzTest.ARG_WINDOW).u8(page);
        }

        static FuzzInput.Seed domain(FuzzInput.Seed s, int index) {
            return s.u8(HypervisorFuzzTest.ARG_DOMAIN).u8(index);
        }

        static FuzzInput.Seed raw(FuzzInput.Seed s, long value) {
            return s.u8(HypervisorFuzzTest.ARG_RAW).i64(value);
        }

        /** A hypercall: op index into OPS, a small command, then a1..a3 written by {@code args}. */
        static FuzzInput.Seed call(FuzzInput.Seed s, int opIndex, int command) {
            return s.u8(HypervisorFuzzTest.HYPERCALL).u8(opIndex).u8(0).u8(command + 1);
        }

        static FuzzInput.Seed record(FuzzInput.Seed s, int kind, int page, int offset) {
            return s.u8(HypervisorFuzzTest.RECORD).u8(kind).u8(page).u16(offset);
        }

        /** A map operation record: host, flags, reference, domain index. */
        static FuzzInput.Seed mapOp(FuzzInput.Seed s, int page, int windowPage, int flags, int ref, int domainIndex) {
            record(s, HypervisorFuzzTest.REC_GNT_MAP, page, 0);
            window(s, windowPage).u8(flags).u8(0).u8(ref);
            return domain(s, domainIndex);
        }

        /** GRANT_TABLE_OP cmd with the operations at {@code page}, count 1. */
        static FuzzInput.Seed grantCall(FuzzInput.Seed s, int cmd, int page) {
            call(s, 3, cmd);
            page(s, page);
            small(s, 1);
            return small(s, 0);
        }
    }

    private static void hypervisor(Path dir) throws IOException {
        // dom0's read-write grant mapped into the window, stored through, unmapped, stored again (must not land).
        FuzzInput.Seed s = new FuzzInput.Seed();
        H.call(s, 3, Hypercall.GNTTAB_SETUP);
        H.page(s, 0);
        H.small(s, 1);
        H.small(s, 0);
        H.mapOp(s, 1, 0, 0, HypervisorFuzzTest.REF_RW, 0);
        H.grantCall(s, Hypercall.GNTTAB_MAP, 1);
        H.window(s.u8(HypervisorFuzzTest.STORE), 0).bytes(pattern(64, 1));
        H.record(s, HypervisorFuzzTest.REC_GNT_UNMAP, 2, 0);
        H.window(s, 0).u8(0).u8(0);
        H.grantCall(s, Hypercall.GNTTAB_UNMAP, 2);
        H.window(s.u8(HypervisorFuzzTest.STORE), 0).bytes(pattern(64, 2));
        s.u8(HypervisorFuzzTest.RUN);
        write(dir, "grant-map-store-unmap", s);

        // dom0's read-only grant: mapped writable (refused), read-only (a store fails), then a disk read into it.
        s = new FuzzInput.Seed();
        H.mapOp(s, 3, 1, 0, HypervisorFuzzTest.REF_RO, 0);
        H.grantCall(s, Hypercall.GNTTAB_MAP, 3);
        H.mapOp(s, 3, 1, GrantOps.MAP_READONLY, HypervisorFuzzTest.REF_RO, 0);
        H.grantCall(s, Hypercall.GNTTAB_MAP, 3);
        H.window(s.u8(HypervisorFuzzTest.STORE), 1).bytes(pattern(16, 3));
        H.call(s, 0, Hypercall.BLOCK_SETUP);
        H.page(s, 5);
        H.small(s, 16);
        H.small(s, 0);
        H.record(s, HypervisorFuzzTest.REC_BLKIF, 4, 0);
        s.u8(BlockProtocol.OP_READ).u8(1).u16(9).u8(0).u8(8);
        H.window(s, 1).u8(0).u8(7);
        H.call(s, 0, Hypercall.BLOCK_SUBMIT);
        H.page(s, 4);
        H.small(s, 1);
        H.small(s, 0);
        s.u8(HypervisorFuzzTest.RUN);
        write(dir, "read-only-grant-and-a-disk-read-into-it", s);

        // A multicall holding a multicall and a console write.
        s = new FuzzInput.Seed();
        H.record(s, HypervisorFuzzTest.REC_MULTICALL, 6, 0);
        s.u8(1).u8(0).u8(1);
        H.page(s, 6);
        H.small(s, 2);
        H.small(s, 0);
        H.record(s, HypervisorFuzzTest.REC_MULTICALL, 6, Hypercall.MULTICALL_ENTRY_BYTES);
        s.u8(2).u8(0).u8(Hypercall.CONSOLE_WRITE + 1);
        H.small(s, 10);
        H.page(s, 0);
        H.small(s, 0);
        s.u8(HypervisorFuzzTest.HYPERCALL).u8(1).u8(1);
        H.page(s, 6);
        H.small(s, 2);
        H.small(s, 0);
        H.small(s, 0);
        write(dir, "nested-multicall-and-console", s);

        // Trapped device registers: queues of its own, a doorbell; then a start-I/O of a chain.
        s = new FuzzInput.Seed();
        int[][] registers = {{0, 7}, {1, 8}};
        for (int[] r : registers) {
            H.page(s.u8(HypervisorFuzzTest.VMEXIT).u8(0).u8(0).u8(r[0] + 1), r[1]);
        }
        H.small(s.u8(HypervisorFuzzTest.VMEXIT).u8(0).u8(0).u8(3), 16);
        H.small(s.u8(HypervisorFuzzTest.VMEXIT).u8(0).u8(0).u8(4), 1);
        H.small(s.u8(HypervisorFuzzTest.VMEXIT).u8(0).u8(0).u8(5), 0);
        s.u8(HypervisorFuzzTest.VMEXIT).u8(1).u8(1);
        H.page(s, 9);
        s.u8(HypervisorFuzzTest.ARG_PAGE_OFFSET).u8(9).u16(2048);
        s.u8(HypervisorFuzzTest.RUN);
        write(dir, "device-registers-and-start-io", s);

        // Event channels, the IOMMU and the device model from an unprivileged domain, an unknown hypercall, a user-level one.
        s = new FuzzInput.Seed();
        H.call(s, 4, Hypercall.EVTCHN_ALLOC_UNBOUND);
        H.domain(s, 0);
        H.small(s, 0);
        H.small(s, 0);
        H.call(s, 4, Hypercall.EVTCHN_BIND_INTERDOMAIN);
        H.domain(s, 1);
        H.small(s, 1);
        H.small(s, 0);
        for (int cmd : new int[] {Hypercall.EVTCHN_SEND, Hypercall.EVTCHN_UNMASK, Hypercall.EVTCHN_CLOSE}) {
            H.call(s, 4, cmd);
            H.small(s, 1);
            H.small(s, 0);
            H.small(s, 0);
        }
        H.call(s, 5, Hypercall.IOMMU_MAP);
        H.small(s, 1);
        H.small(s, 0);
        H.page(s, 0);
        H.call(s, 6, Hypercall.DM_INJECT_IRQ);
        H.domain(s, 1);
        H.small(s, 0);
        H.small(s, 0);
        s.u8(HypervisorFuzzTest.HYPERCALL).u8(7).i32(999).u8(0).u8(1);
        H.small(s, 0);
        H.small(s, 0);
        H.small(s, 0);
        s.u8(HypervisorFuzzTest.USER_HYPERCALL).u8(0);
        H.page(s, 0);
        write(dir, "events-iommu-dm-unknown-user", s);

        // A map operation whose first 18 bytes lie in dom0's read-write page and whose status lies in its read-only one.
        s = new FuzzInput.Seed();
        H.mapOp(s, 10, 2, 0, HypervisorFuzzTest.REF_RW, 0);
        H.grantCall(s, Hypercall.GNTTAB_MAP, 10);
        H.mapOp(s, 10, 3, GrantOps.MAP_READONLY, HypervisorFuzzTest.REF_RO, 0);
        H.grantCall(s, Hypercall.GNTTAB_MAP, 10);
        long op = WINDOW_1M + 3 * MachineMemory.PAGE_SIZE - GrantOps.MAP_STATUS;
        byte[] bytes = ByteBuffer.allocate(GrantOps.MAP_STATUS).order(ByteOrder.LITTLE_ENDIAN)
            .putLong(WINDOW_1M + 4 * MachineMemory.PAGE_SIZE).putInt(GrantOps.MAP_READONLY).putInt(HypervisorFuzzTest.REF_RO)
            .putShort((short) 0).array();
        H.raw(s.u8(HypervisorFuzzTest.STORE), op).bytes(bytes);
        H.call(s, 3, Hypercall.GNTTAB_MAP);
        H.raw(s, op);
        H.small(s, 1);
        H.small(s, 0);
        write(dir, "map-status-in-a-read-only-page", s);
    }

    // ------------------------------------------------------------------ GrantFuzzTest

    private static final class G {
        /** An attacker's map batch of one operation at its ops page: window page, flags, peer reference. */
        static FuzzInput.Seed map(FuzzInput.Seed s, int windowPage, int flags, int ref) {
            s.u8(GrantFuzzTest.A_MAP).u8(0).u8(GrantFuzzTest.AT_OPS).u8(0);
            return s.u8(0).u8(windowPage).u8(flags).u8(0).u8(ref).u8(GrantFuzzTest.DOM_PEER).u8(1);
        }

        /** Unmaps the first mapping the attacker was told of. */
        static FuzzInput.Seed unmapFirst(FuzzInput.Seed s) {
            return s.u8(GrantFuzzTest.A_UNMAP).u8(0).u8(GrantFuzzTest.AT_OPS).u8(1).u8(0).u8(0).u8(1);
        }

        static FuzzInput.Seed storeWindow(FuzzInput.Seed s, int windowPage, int offset, byte[] bytes) {
            return s.u8(GrantFuzzTest.A_STORE).u8(0).u8(windowPage).u16(offset).bytes(bytes);
        }
    }

    private static void grant(Path dir) throws IOException {
        // The peer's read-write grant mapped, stored through, unmapped; the peer revokes it; a store must not land.
        FuzzInput.Seed s = new FuzzInput.Seed();
        G.map(s, 0, 0, 1);
        G.storeWindow(s, 0, 100, pattern(32, 1));
        G.unmapFirst(s);
        s.u8(GrantFuzzTest.P_REVOKE).u8(0);
        G.storeWindow(s, 0, 100, pattern(32, 2));
        write(dir, "map-store-unmap-revoke", s);

        // The read-only grant: mapped writable (refused), read-only; a store and a copy into it are refused.
        s = new FuzzInput.Seed();
        G.map(s, 1, 0, 2);
        G.map(s, 1, GrantOps.MAP_READONLY, 2);
        G.storeWindow(s, 1, 0, pattern(16, 3));
        s.u8(GrantFuzzTest.A_COPY).u8(0).u8(GrantFuzzTest.AT_OPS).u8(2);
        s.u8(1).u8(0).u8(GrantFuzzTest.DOM_ATTACKER).u8(0).u8(0);
        s.u8(0).u8(2).u8(GrantFuzzTest.DOM_PEER).u8(0).u8(0);
        s.u8(0).u8(GrantOps.COPY_DEST_GREF).u8(1);
        write(dir, "read-only-grant", s);

        // The attacker as granter: the peer maps its reference 5 and stores through it; the attacker revokes under it.
        s = new FuzzInput.Seed();
        s.u8(GrantFuzzTest.A_ENTRY).u8(0).u8(5).u8(0).u8(GrantFuzzTest.DOM_PEER).u8(0).u8(0);
        s.u8(GrantFuzzTest.P_MAP).u8(0).u8(0).u8(5).u8(0);
        s.u8(GrantFuzzTest.P_STORE).u8(0).bytes(pattern(32, 4));
        s.u8(GrantFuzzTest.A_ENTRY).u8(0).u8(5).u8(2).u8(GrantFuzzTest.DOM_PEER).u8(0).u8(0);
        s.u8(GrantFuzzTest.P_STORE).u8(0).bytes(pattern(32, 5));
        s.u8(GrantFuzzTest.P_UNMAP).u8(0);
        s.u8(GrantFuzzTest.P_STORE).u8(0).bytes(pattern(32, 6));
        write(dir, "attacker-granter-revokes-under-the-peer", s);

        // A map whose operation starts in the peer's read-write page and whose status lies in its read-only page.
        s = new FuzzInput.Seed();
        G.map(s, 0, 0, 1);
        G.map(s, 1, GrantOps.MAP_READONLY, 2);
        s.u8(GrantFuzzTest.A_MAP).u8(0).u8(GrantFuzzTest.AT_STRADDLE).u8(1).u8(GrantOps.MAP_STATUS - 1);
        s.u8(0).u8(2).u8(GrantOps.MAP_READONLY).u8(0).u8(2).u8(GrantFuzzTest.DOM_PEER).u8(1);
        write(dir, "map-status-in-a-read-only-page", s);

        // Table set-up moved and refused, bad frames in its own entries, a copy between its own grants, a multicall.
        s = new FuzzInput.Seed();
        s.u8(GrantFuzzTest.A_SETUP).u8(1).u8(0).u8(0).u8(1);
        s.u8(GrantFuzzTest.A_SETUP).u8(0).u8(10).u8(0).u8(1);
        s.u8(GrantFuzzTest.A_ENTRY).u8(0).u8(3).u8(0).u8(GrantFuzzTest.DOM_ATTACKER).u8(1);
        s.u8(GrantFuzzTest.A_ENTRY).u8(0).u8(4).u8(0).u8(GrantFuzzTest.DOM_ATTACKER).u8(0).u8(2);
        s.u8(GrantFuzzTest.A_COPY).u8(0).u8(GrantFuzzTest.AT_OPS).u8(3);
        s.u8(0).u8(3).u8(GrantFuzzTest.DOM_ATTACKER).u8(0).u8(0);
        s.u8(0).u8(4).u8(GrantFuzzTest.DOM_ATTACKER).u8(0).u8(1);
        s.u8(0).u8(GrantOps.COPY_SOURCE_GREF | GrantOps.COPY_DEST_GREF).u8(0);
        s.u8(GrantFuzzTest.A_MAP).u8(5).i32(33).u8(GrantFuzzTest.AT_OPS).u8(0).u8(0);
        write(dir, "setup-own-entries-copy-multicall", s);

        // The peer grants and revokes under the attacker's mappings; the attacker's unmaps guess handles.
        s = new FuzzInput.Seed();
        s.u8(GrantFuzzTest.P_GRANT).u8(5).u8(0).u8(5).u8(1);
        G.map(s, 3, 0, 6);
        s.u8(GrantFuzzTest.P_REVOKE).u8(5);
        s.u8(GrantFuzzTest.A_UNMAP).u8(0).u8(GrantFuzzTest.AT_OPS).u8(1).u8(1).u8(3).u8(0).u8(0).u8(1);
        s.u8(GrantFuzzTest.P_REVOKE).u8(5);
        s.u8(GrantFuzzTest.P_GRANT).u8(5).u8(0).u8(5).u8(0);
        G.map(s, 3, 0, 6);
        G.map(s, 3, GrantOps.MAP_READONLY, 6);
        s.u8(GrantFuzzTest.RUN);
        write(dir, "peer-grants-and-revokes", s);

        // The finding crash-f35a0753 on its own: a store warms the TLB for the attacker's ops page, then a
        // map of the peer's read-write grant whose operation lies at that page plus 2^58, above any address
        // its table covers: refused (EFAULT), however warm the TLB. (It used to hit the ops page's entry.)
        s = new FuzzInput.Seed();
        s.u8(GrantFuzzTest.A_STORE).u8(1).u8(GrantFuzzTest.A_OPS).bytes(pattern(1, 7));
        s.u8(GrantFuzzTest.A_MAP).u8(0).u8(GrantFuzzTest.AT_RAW).i64(1L << 58 | (GrantFuzzTest.A_OPS + 1L) << MachineMemory.PAGE_SHIFT);
        s.u8(0).u8(1).u8(0).u8(0).u8(1).u8(GrantFuzzTest.DOM_PEER).u8(1);
        write(dir, "map-ops-above-the-address-space-on-a-warm-tlb", s);

        // The finding crash-ba5e17f4: an unmap batch whose count (5) exceeds the operations written (4) also runs
        // the fifth slot, which still holds an earlier unmap of a mapping made again since: that mapping goes too.
        s = new FuzzInput.Seed();
        G.map(s, 2, 0, 1);
        s.u8(GrantFuzzTest.A_UNMAP).u8(0).u8(GrantFuzzTest.AT_OPS).u8(4).u8(0).u8(0).u8(1);
        G.map(s, 2, 0, 1);
        s.u8(GrantFuzzTest.A_UNMAP).u8(5).i32(5).u8(GrantFuzzTest.AT_OPS).u8(0);
        for (int i = 0; i < 4; i++) {
            s.u8(1).u8(7).u8(0).u8(7);
        }
        s.u8(1);
        write(dir, "unmap-count-past-the-operations-written", s);

        // The same for maps: the fifth slot holds an earlier map of the peer's grant, made again though never written.
        s = new FuzzInput.Seed();
        s.u8(GrantFuzzTest.A_MAP).u8(0).u8(GrantFuzzTest.AT_OPS).u8(4);
        s.u8(0).u8(3).u8(0).u8(0).u8(1).u8(GrantFuzzTest.DOM_PEER).u8(1);
        s.u8(GrantFuzzTest.A_UNMAP).u8(0).u8(GrantFuzzTest.AT_OPS).u8(0).u8(0).u8(0).u8(1);
        s.u8(GrantFuzzTest.A_MAP).u8(5).i32(5).u8(GrantFuzzTest.AT_OPS).u8(0);
        for (int i = 0; i < 4; i++) {
            s.u8(3).i64(0).u8(0).u8(0).u8(1).u8(GrantFuzzTest.DOM_PEER);
        }
        s.u8(1);
        write(dir, "map-count-past-the-operations-written", s);

        // The peer grants its page 0 read-write to the attacker a second time (reference 5), then revokes
        // reference 1 of the same page: the attacker may still write the page through reference 5.
        s = new FuzzInput.Seed();
        s.u8(GrantFuzzTest.P_GRANT).u8(4).u8(0).u8(0).u8(1);
        s.u8(GrantFuzzTest.P_REVOKE).u8(0);
        G.map(s, 0, 0, 5);
        G.storeWindow(s, 0, 100, pattern(32, 9));
        write(dir, "revoke-one-of-two-grants-of-a-page", s);

        // The finding crash-22038e90: an unmap whose status lies across two mapped window pages. The hypervisor
        // unmaps (here the peer's reference 4 at window page 5), cannot write the status there and answers EFAULT:
        // the attacker was not told, and the clean-up must still find the mapping gone.
        s = new FuzzInput.Seed();
        G.map(s, 0, 0, 1);
        G.map(s, 1, 0, 1);
        G.map(s, 5, 0, 4);
        s.u8(GrantFuzzTest.A_UNMAP).u8(0).u8(GrantFuzzTest.AT_STRADDLE).u8(1).u8(GrantOps.UNMAP_STATUS).u8(0).u8(2).u8(1);
        s.u8(GrantFuzzTest.RUN);
        write(dir, "unmap-status-across-two-pages", s);
    }

    // ------------------------------------------------------------------ RingFuzzTest

    private static final class R {
        /** A request in the slot {@code rel} past the attacker's producer: one segment per reference, whole pages. */
        static FuzzInput.Seed request(FuzzInput.Seed s, int rel, int op, int sector, int... refs) {
            s.u8(RingFuzzTest.REQUEST).u8(rel).u8(op).u8(refs.length).u16(0x100 + rel).u8(0).u8(sector);
            for (int ref : refs) {
                if (ref >= RingFuzzTest.DATA_REF && ref < RingFuzzTest.DATA_REF + RingFuzzTest.DATA_PAGES) {
                    s.u8(RingFuzzTest.REF_DATA).u8(ref - RingFuzzTest.DATA_REF);
                } else if (ref == RingFuzzTest.RING_REF) {
                    s.u8(RingFuzzTest.REF_RING);
                } else {
                    s.u8(RingFuzzTest.REF_RAW).i32(ref);
                }
                s.u8(0);
            }
            return s;
        }

        static FuzzInput.Seed publish(FuzzInput.Seed s, int count) {
            return s.u8(RingFuzzTest.PUBLISH).u8(0).u8(count - 1);
        }
    }

    private static void ring(Path dir) throws IOException {
        String[] modes = {"map", "copy", "persistent"};
        for (int mode = 0; mode < modes.length; mode++) {
            // Good requests: a read, a write of two pages, a flush.
            FuzzInput.Seed s = new FuzzInput.Seed().u8(mode);
            R.request(s, 0, BlockProtocol.OP_READ, 8, RingFuzzTest.DATA_REF);
            R.request(s, 1, BlockProtocol.OP_WRITE, 16, RingFuzzTest.DATA_REF + 1, RingFuzzTest.DATA_REF + 2);
            s.u8(RingFuzzTest.REQUEST).u8(2).u8(2).u8(0).u16(7).u8(0).u8(0);
            R.publish(s, 3);
            s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
            write(dir, modes[mode] + "-good-requests", s);

            // Bad references: never granted, read-only for a read, granted to dom0, the ring page, -1; then a flood of them.
            s = new FuzzInput.Seed().u8(mode);
            R.request(s, 0, BlockProtocol.OP_READ, 8, 40);
            R.request(s, 1, BlockProtocol.OP_READ, 8, RingFuzzTest.DATA_REF + 4);
            R.request(s, 2, BlockProtocol.OP_WRITE, 8, RingFuzzTest.DATA_REF + 5);
            R.request(s, 3, BlockProtocol.OP_READ, 8, RingFuzzTest.RING_REF);
            R.request(s, 4, BlockProtocol.OP_READ, 8, -1, 3000, 1000, 40, 41, 42, 43, 44, 45, 46, 47);
            R.publish(s, 5);
            s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
            s.u8(RingFuzzTest.FLOOD).u8(7);
            write(dir, modes[mode] + "-bad-references-flood", s);

            // A grant changed under the back end: read-only, then taken away, then given to dom0; requests between.
            s = new FuzzInput.Seed().u8(mode);
            s.u8(RingFuzzTest.ENTRY).u8(RingFuzzTest.DATA_REF).u8(1).u8(0).u8(0).u8(0);
            R.request(s, 0, BlockProtocol.OP_READ, 24, RingFuzzTest.DATA_REF);
            R.publish(s, 1);
            s.u8(RingFuzzTest.KICK);
            s.u8(RingFuzzTest.ENTRY).u8(RingFuzzTest.DATA_REF).u8(2).u8(0).u8(0).u8(0);
            R.request(s, 0, BlockProtocol.OP_WRITE, 24, RingFuzzTest.DATA_REF);
            R.publish(s, 1);
            s.u8(RingFuzzTest.KICK);
            s.u8(RingFuzzTest.ENTRY).u8(RingFuzzTest.DATA_REF).u8(0).u8(2).u8(0).u8(0);
            R.request(s, 0, BlockProtocol.OP_READ, 24, RingFuzzTest.DATA_REF);
            R.publish(s, 1);
            s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
            write(dir, modes[mode] + "-grant-changed-under-it", s);
        }

        // Shapes the back end must refuse: no segments, twelve, first after last, past the extent, an unknown operation.
        FuzzInput.Seed s = new FuzzInput.Seed().u8(0);
        s.u8(RingFuzzTest.REQUEST).u8(0).u8(0).u8(0).u16(1).u8(0).u8(0);
        s.u8(RingFuzzTest.REQUEST).u8(1).u8(0).u8(13).u8(12).u16(2).u8(0).u8(0);
        for (int i = 0; i < 11; i++) {
            s.u8(RingFuzzTest.REF_DATA).u8(0).u8(0);
        }
        s.u8(RingFuzzTest.REQUEST).u8(2).u8(0).u8(1).u16(3).u8(0).u8(0).u8(RingFuzzTest.REF_DATA).u8(0).u8(1).u8(6).u8(2);
        s.u8(RingFuzzTest.REQUEST).u8(3).u8(1).u8(1).u16(4).u8(1).i64(Long.MAX_VALUE).u8(RingFuzzTest.REF_DATA).u8(0).u8(0);
        s.u8(RingFuzzTest.REQUEST).u8(4).u8(3).u8(9).u8(1).u16(5).u8(0).u8(0).u8(RingFuzzTest.REF_DATA).u8(0).u8(0);
        R.publish(s, 5);
        s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
        write(dir, "map-refused-shapes", s);

        // A producer run ahead of the ring: the back end stops this ring only.
        s = new FuzzInput.Seed().u8(2);
        R.publish(s, 32);
        R.publish(s, 32);
        s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
        write(dir, "persistent-runaway-producer", s);

        // Raw header values: event indices that ask for every event, then a producer behind the consumer.
        s = new FuzzInput.Seed().u8(1);
        s.u8(RingFuzzTest.HEADER).u8(1).i32(0).u8(RingFuzzTest.HEADER).u8(3).i32(-1);
        R.request(s, 0, BlockProtocol.OP_READ, 0, RingFuzzTest.DATA_REF);
        R.publish(s, 1);
        s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
        s.u8(RingFuzzTest.PUBLISH).u8(1).u8(3);
        s.u8(RingFuzzTest.KICK).u8(RingFuzzTest.RUN);
        write(dir, "copy-raw-header", s);
    }

    // ------------------------------------------------------------------ IommuFuzzTest

    private static final class I {
        static FuzzInput.Seed map(FuzzInput.Seed s, int iovaPage, int dataPage, int permissions) {
            return s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_PAGE).u8(iovaPage).u8(IommuFuzzTest.GPA_DATA).u8(dataPage)
                .u8(permissions);
        }

        static FuzzInput.Seed unmap(FuzzInput.Seed s, int iovaPage) {
            return s.u8(IommuFuzzTest.UNMAP).u8(IommuFuzzTest.IOVA_PAGE).u8(iovaPage);
        }

        /** A DMA at an I/O page and offset: read (disk to memory) or write, {@code sectors} long, at {@code sector}. */
        static FuzzInput.Seed dma(FuzzInput.Seed s, int iovaPage, int offsetSectors, boolean read, int sectors, int sector) {
            return s.u8(IommuFuzzTest.DMA).u8(IommuFuzzTest.DMA_PAGE).u8(iovaPage).u8(offsetSectors).u8(read ? 0 : 1)
                .u8(sectors - 1).u8(sector);
        }
    }

    /** A TPM action at locality {@code locality} (0 to 4): the action, then the locality's two bytes. */
    private static FuzzInput.Seed tpmAction(FuzzInput.Seed s, int action, int locality) {
        return s.u8(action).u8(1).u8(locality);
    }

    private static void tpm(Path dir) throws IOException {
        byte[] nonce = pattern(32, 3);
        // Startup, measure PCR 0, make an attestation key, quote PCRs 0-7 and 17 with a nonce, flush the key.
        FuzzInput.Seed s = new FuzzInput.Seed();
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(0);
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(1).u8(1);
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(5).u8(1).u8(0);
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(6).u8(1).bytes(nonce).i32(0x200FF);
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(3).i32(0x200FF);
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(7).u8(1);
        write(dir, "startup-extend-key-quote-read-flush", s);

        // The dynamic root's PCRs from every locality: extend and reset 17 at 0 to 4, then a quote's bytes changed.
        s = new FuzzInput.Seed();
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(0);
        for (int locality = 0; locality <= 4; locality++) {
            tpmAction(s, TpmFuzzTest.VALID, locality).u8(1).u8(18);
            tpmAction(s, TpmFuzzTest.VALID, locality).u8(2).u8(17);
        }
        tpmAction(s, TpmFuzzTest.VALID, 0).u8(5).u8(0).u8(1);
        tpmAction(s, TpmFuzzTest.MUTATE, 0).u8(6).u8(1).bytes(nonce).i32(0x20001).u8(0).u8(40).u8(0xFF);
        write(dir, "drtm-pcrs-every-locality-then-mutated-quote", s);

        // Raw bytes: a TPM 1.2 header, a header alone, a size field that lies.
        s = new FuzzInput.Seed();
        tpmAction(s, TpmFuzzTest.RAW, 0).bytes(new byte[] {0x00, (byte) 0xC1, 0, 0, 0, 12, 0, 0, 0, (byte) 0x99, 0, 1});
        tpmAction(s, TpmFuzzTest.RAW, 0).bytes(new byte[] {(byte) 0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0x44});
        tpmAction(s, TpmFuzzTest.RAW, 3).bytes(new byte[] {(byte) 0x80, 0x01, 0, 0, 0x10, 0, 0, 0, 1, 0x44, 0, 0});
        write(dir, "raw-bad-tag-short-lying-size", s);
    }

    private static void iommu(Path dir) throws IOException {
        for (int mode = 0; mode < 2; mode++) {
            String name = mode == 0 ? "strict" : "deferred";
            // Map, DMA both ways, unmap, DMA again (a strict unmap leaves nothing; a deferred one a counted window), flush.
            FuzzInput.Seed s = new FuzzInput.Seed().u8(mode);
            I.map(s, 3, 0, 3);
            s.u8(IommuFuzzTest.STORE).u8(0).u16(0).bytes(pattern(512, 9));
            I.dma(s, 3, 0, false, 8, 40);
            I.dma(s, 3, 0, true, 8, 40);
            I.unmap(s, 3);
            I.dma(s, 3, 0, true, 8, 48);
            s.u8(IommuFuzzTest.FLUSH);
            I.dma(s, 3, 0, true, 8, 48);
            write(dir, name + "-map-dma-unmap-dma", s);

            // The same I/O page unmapped and mapped again to another frame before any flush: the DMA must reach the new one.
            s = new FuzzInput.Seed().u8(mode);
            I.map(s, 5, 1, 3);
            I.dma(s, 5, 0, true, 8, 56);
            I.unmap(s, 5);
            I.map(s, 5, 2, 3);
            I.dma(s, 5, 0, true, 8, 64);
            I.dma(s, 5, 4, false, 8, 72);
            write(dir, name + "-remap-before-flush", s);

            // Permissions: read-only and write-only pages, a DMA that straddles into an unmapped page.
            s = new FuzzInput.Seed().u8(mode);
            I.map(s, 7, 3, 1);
            I.map(s, 8, 4, 2);
            I.dma(s, 7, 0, true, 1, 80);
            I.dma(s, 7, 0, false, 1, 80);
            I.dma(s, 8, 0, true, 1, 80);
            I.dma(s, 8, 0, false, 1, 80);
            I.dma(s, 8, 7, true, 2, 80);
            write(dir, name + "-permissions-and-straddle", s);
        }

        // Maps the owner may not make: another domain's granted pages, its shared-info page, outside its memory, bad shapes.
        FuzzInput.Seed s = new FuzzInput.Seed().u8(0);
        for (int k = 0; k < 3; k++) {
            s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_PAGE).u8(10 + k).u8(IommuFuzzTest.GPA_GRANTED).u8(k).u8(k == 1 ? 1 : 3);
        }
        s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_PAGE).u8(13).u8(IommuFuzzTest.GPA_SHARED_INFO).u8(1);
        s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_PAGE).u8(14).u8(IommuFuzzTest.GPA_OUTSIDE).u8(9).u8(3);
        s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_UNALIGNED).u8(15).u8(99).u8(IommuFuzzTest.GPA_DATA).u8(0).u8(3);
        s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_EDGE).u8(0).u8(IommuFuzzTest.GPA_DATA).u8(0).u8(3);
        s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_PAGE).u8(16).u8(IommuFuzzTest.GPA_DATA).u8(0).u8(0);
        s.u8(IommuFuzzTest.OTHER).u8(0).u8(0).u8(IommuFuzzTest.IOVA_PAGE).u8(0).u8(IommuFuzzTest.GPA_DATA).u8(0).u8(3);
        s.u8(IommuFuzzTest.OTHER).u8(1).u8(7).u8(1).i32(-1).u8(IommuFuzzTest.IOVA_PAGE).u8(0).u8(IommuFuzzTest.GPA_DATA).u8(0).u8(3);
        for (int k = 0; k < 4; k++) {
            s.u8(IommuFuzzTest.DMA).u8(IommuFuzzTest.DMA_VICTIM).u8(k * 3).u8(k % 2).u8(7).u8(100);
        }
        write(dir, "strict-maps-refused-and-victim-addresses", s);

        // The owner maps an I/O page onto its own submission queue's first page (guest page 26) and DMAs
        // disk data into it: the device then writes its consumer index at byte 64 of that page, over the data.
        // The campaign of 2026-11-22 found this (crash-90f2540e); the oracle must allow it, isolation is not at stake.
        s = new FuzzInput.Seed().u8(0);
        s.u8(IommuFuzzTest.MAP).u8(IommuFuzzTest.IOVA_PAGE).u8(20).u8(IommuFuzzTest.GPA_RAM).u8(26).u8(3);
        I.dma(s, 20, 0, true, 1, 90);
        I.dma(s, 20, 0, false, 2, 92);
        // Two I/O pages onto one data page, and one DMA across both: both halves land in that one frame.
        I.map(s, 21, 5, 3);
        I.map(s, 22, 5, 3);
        I.dma(s, 21, 4, true, 8, 100);
        I.unmap(s, 20);
        I.unmap(s, 21);
        I.unmap(s, 22);
        write(dir, "strict-dma-into-its-own-queue-and-aliased-pages", s);

        // Deferred: a DMA across a page unmapped but still in the IOTLB, then a mapped page without the
        // permission it needs. The IOMMU passes the stale page and faults on the next one, a later address
        // than the model's first refused; the campaign of 2026-11-22 found the oracle refusing that
        // (crash-e2f4d042). The pages are unmapped and flushed first: the fixture is shared across inputs.
        s = new FuzzInput.Seed().u8(1);
        I.unmap(s, 33);
        I.unmap(s, 34);
        s.u8(IommuFuzzTest.FLUSH);
        I.map(s, 33, 6, Translation.PERMISSIONS);
        I.map(s, 34, 7, Translation.WRITE);
        I.dma(s, 33, 0, true, 1, 110);
        I.unmap(s, 33);
        I.dma(s, 33, 4, false, 8, 112);
        I.unmap(s, 34);
        s.u8(IommuFuzzTest.FLUSH);
        write(dir, "deferred-stale-page-then-one-without-permission", s);

        // Deferred: the owner unmaps its own submission queue's page, then DMAs at it. The queues are mapped
        // again before the command (the device needs them), so the DMA goes through a fresh mapping, not a
        // stale one; the campaign of 2026-11-22 found the oracle judging the page before the remap (crash-0b0cdc94).
        s = new FuzzInput.Seed().u8(1);
        s.u8(IommuFuzzTest.FLUSH);
        s.u8(IommuFuzzTest.UNMAP).u8(IommuFuzzTest.IOVA_EDGE).u8(5);
        s.u8(IommuFuzzTest.DMA).u8(IommuFuzzTest.DMA_RAW).i64(IommuFuzzTest.QUEUE_IOVA).u8(0).u8(0).u8(120);
        write(dir, "deferred-dma-at-its-own-unmapped-queue", s);
    }
}
