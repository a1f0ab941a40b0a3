package org.hvbench.core.covert;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import org.hvbench.core.arch.Placement;
import org.hvbench.core.arch.Tenants;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.guest.Aio;

/**
 * Traffic-flow analysis by a hostile driver domain (Karger and Safford, section 3.2): the I/O
 * partition's back end logs the sector and length of every request a guest makes and learns which of
 * K known files the guest reads, from the request stream alone.
 *
 * <p>The guest's disk holds K files, file i of {@code 2 + i} blocks of 4 KiB, each in an extent of the
 * longest file's size (the attacker knows the layout). An access reads one file chosen at random.
 * Defences: {@link Defence#ENCRYPT} stores every block AES-GCM encrypted (4,080 bytes of data and a
 * 16-byte tag per block, decrypted and checked after each read): the back end no longer sees the data,
 * but sees the same requests. {@link Defence#PAD} makes every access the same fixed pattern: block b
 * of every file's extent, for every b up to the longest file, in one fixed order; the guest keeps only
 * the blocks it wanted. The attacker classifies each access by the nearest of K profiles it recorded
 * from one labelled access of each file (blocks touched per extent and the number of requests; ties
 * broken at random).
 */
public final class TrafficAnalysis {
    static final int BLOCK = 4096;
    static final int TAG = 16;
    static final int DATA = BLOCK - TAG;
    private static final long SECTORS_PER_BLOCK = BLOCK / 512;

    private TrafficAnalysis() {
    }

    /** What the guest does against the hostile back end. */
    public enum Defence {
        NONE("none"), ENCRYPT("encrypt"), PAD("pad"), ENCRYPT_AND_PAD("encrypt+pad");

        private final String id;

        Defence(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        boolean encrypts() {
            return this == ENCRYPT || this == ENCRYPT_AND_PAD;
        }

        boolean pads() {
            return this == PAD || this == ENCRYPT_AND_PAD;
        }

        /** @throws IllegalArgumentException naming the setting {@code defence} */
        public static Defence parse(String name) {
            String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
            for (Defence d : values()) {
                if (d.id.equals(n)) {
                    return d;
                }
            }
            throw new IllegalArgumentException("defence: '" + name + "' is unknown; use none, encrypt, pad or encrypt+pad");
        }

        @Override
        public String toString() {
            return id;
        }
    }

    /** What one run found. */
    public static final class Result {
        public final Defence defence;
        public final int files;
        public final int accesses;
        public final int correct;
        /** Requests the back end saw per access, on average. */
        public final double requestsPerAccess;
        /** Bytes of wanted file data per second: modelled (cost profile) and measured (this JVM, decryption included). */
        public final double usefulBytesPerSecondModelled;
        public final double usefulBytesPerSecondMeasured;

        Result(Defence defence, int files, int accesses, int correct, double requestsPerAccess, double modelled, double measured) {
            this.defence = defence;
            this.files = files;
            this.accesses = accesses;
            this.correct = correct;
            this.requestsPerAccess = requestsPerAccess;
            this.usefulBytesPerSecondModelled = modelled;
            this.usefulBytesPerSecondMeasured = measured;
        }

        public double accuracy() {
            return (double) correct / accesses;
        }

        public double chance() {
            return 1.0 / files;
        }

        /** The most accuracy a guesser at chance reaches with this many accesses at 99.9 % (one-sided normal bound). */
        public double chanceBound() {
            double c = chance();
            return c + Capacity.Z_999 * Math.sqrt(c * (1 - c) / accesses);
        }
    }

    /**
     * Runs {@code accesses} accesses to {@code files} files of a guest of {@code io-partition} with
     * {@code defence}.
     *
     * @throws IllegalArgumentException for files outside 2 to 32 or accesses outside 1 to 100,000
     */
    public static Result run(int files, int accesses, Defence defence, long seed, MachineConfig config) {
        if (files < 2 || files > 32) {
            throw new IllegalArgumentException("files: " + files + " is not allowed; use 2 to 32");
        }
        if (accesses < 1 || accesses > 100_000) {
            throw new IllegalArgumentException("accesses: " + accesses + " is not allowed; use 1 to 100000");
        }
        int longest = files + 1;
        byte[] keyBytes = new byte[16];
        new SplittableRandom(seed ^ 0x5eedL).nextBytes(keyBytes);
        SecretKeySpec key = new SecretKeySpec(keyBytes, "AES");
        try (Tenants tenants = Tenants.open(Placement.IO_PARTITION, config, 1, 1)) {
            if (tenants.guest(0).sectors() < (long) files * longest * SECTORS_PER_BLOCK) {
                throw new IllegalArgumentException("diskBytes: too small for " + files + " files of up to " + longest + " blocks");
            }
            PricedIo io = new PricedIo(tenants.guest(0), 1, BLOCK);
            // The guest writes its files (before the attacker starts logging).
            for (int f = 0; f < files; f++) {
                for (int b = 0; b < longest; b++) {
                    io.app().memory().hostWrite(io.buffer(0), seal(defence, key, f, b, content(seed, f, b)), 0, BLOCK);
                    io.run(Aio.PWRITE, 0, sector(f, b, longest), BLOCK);
                }
            }
            Observer observer = new Observer(files, longest);
            tenants.observeRequests((dom, op, sector, bytes) -> observer.see(sector, bytes));

            // The attacker's profiles: one access of each file it knows.
            int[][] profiles = new int[files][];
            for (int f = 0; f < files; f++) {
                observer.reset();
                access(io, defence, key, seed, f, files, longest);
                profiles[f] = observer.features();
            }
            SplittableRandom random = new SplittableRandom(seed);
            int correct = 0;
            long requests = 0;
            long picos = 0;
            long nanos = 0;
            long useful = 0;
            for (int a = 0; a < accesses; a++) {
                int wanted = random.nextInt(files);
                observer.reset();
                long wall0 = System.nanoTime();
                picos += access(io, defence, key, seed, wanted, files, longest);
                nanos += System.nanoTime() - wall0;
                useful += (long) blocks(wanted) * DATA;
                requests += observer.requests;
                if (observer.guess(profiles, random) == wanted) {
                    correct++;
                }
            }
            return new Result(defence, files, accesses, correct, (double) requests / accesses,
                useful / (picos / 1e12), useful / (nanos / 1e9));
        }
    }

    /** Blocks of file {@code f}. */
    static int blocks(int f) {
        return 2 + f;
    }

    private static long sector(int file, int block, int longest) {
        return ((long) file * longest + block) * SECTORS_PER_BLOCK;
    }

    /** Reads file {@code f} as {@code defence} says, checks every wanted block, returns the modelled picoseconds. */
    private static long access(PricedIo io, Defence defence, SecretKeySpec key, long seed, int f, int files, int longest) {
        long picos = 0;
        if (defence.pads()) {
            for (int b = 0; b < longest; b++) {
                for (int g = 0; g < files; g++) {
                    picos += readBlock(io, longest, g, b);
                    if (g == f && b < blocks(f)) {
                        check(io, defence, key, seed, f, b);
                    }
                }
            }
        } else {
            for (int b = 0; b < blocks(f); b++) {
                picos += readBlock(io, longest, f, b);
                check(io, defence, key, seed, f, b);
            }
        }
        return picos;
    }

    private static long readBlock(PricedIo io, int longest, int f, int b) {
        io.run(Aio.PREAD, 0, sector(f, b, longest), BLOCK);
        return io.ownPicos() + io.driverPicos();
    }

    private static void check(PricedIo io, Defence defence, SecretKeySpec key, long seed, int f, int b) {
        byte[] block = io.app().memory().hostRead(io.buffer(0), BLOCK);
        byte[] data = open(defence, key, f, b, block);
        if (!Arrays.equals(data, content(seed, f, b))) {
            throw new IllegalStateException("file " + f + " block " + b + " read back wrong");
        }
    }

    static byte[] content(long seed, int f, int b) {
        byte[] d = new byte[DATA];
        new SplittableRandom(seed * 1_000_003L + f * 4099L + b).nextBytes(d);
        return d;
    }

    /** One AES-GCM cipher, initialised again for each block (a new nonce each time). */
    private static final ThreadLocal<Cipher> GCM = ThreadLocal.withInitial(() -> {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is missing from this JVM", e);
        }
    });

    private static byte[] seal(Defence defence, SecretKeySpec key, int f, int b, byte[] data) {
        if (!defence.encrypts()) {
            return Arrays.copyOf(data, BLOCK);
        }
        try {
            Cipher c = GCM.get();
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG * 8, nonce(f, b)));
            return c.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is missing from this JVM", e);
        }
    }

    private static byte[] open(Defence defence, SecretKeySpec key, int f, int b, byte[] block) {
        if (!defence.encrypts()) {
            return Arrays.copyOf(block, DATA);
        }
        try {
            Cipher c = GCM.get();
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG * 8, nonce(f, b)));
            return c.doFinal(block);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("file " + f + " block " + b + " failed its AES-GCM check", e);
        }
    }

    /** One nonce per block: each block is written once per key. */
    private static byte[] nonce(int f, int b) {
        byte[] n = new byte[12];
        n[0] = (byte) f;
        n[1] = (byte) (f >>> 8);
        n[4] = (byte) b;
        n[5] = (byte) (b >>> 8);
        return n;
    }

    /** The hostile back end's log of one access, reduced to what it classifies by. */
    private static final class Observer {
        final int files;
        final int longest;
        final int[] touched;
        int requests;

        Observer(int files, int longest) {
            this.files = files;
            this.longest = longest;
            this.touched = new int[files];
        }

        void reset() {
            Arrays.fill(touched, 0);
            requests = 0;
        }

        void see(long sector, int bytes) {
            requests++;
            long extent = (long) longest * SECTORS_PER_BLOCK;
            int f = (int) (sector / extent);
            if (f >= 0 && f < files) {
                touched[f] += Math.max(1, bytes / BLOCK);
            }
        }

        int[] features() {
            int[] v = Arrays.copyOf(touched, files + 1);
            v[files] = requests;
            return v;
        }

        /** The nearest profile (L1 distance); ties broken at random. */
        int guess(int[][] profiles, SplittableRandom random) {
            int[] v = features();
            long best = Long.MAX_VALUE;
            int choice = -1;
            int ties = 0;
            for (int f = 0; f < profiles.length; f++) {
                long d = 0;
                for (int i = 0; i < v.length; i++) {
                    d += Math.abs(v[i] - profiles[f][i]);
                }
                if (d < best) {
                    best = d;
                    choice = f;
                    ties = 1;
                } else if (d == best && random.nextInt(++ties) == 0) {
                    choice = f;
                }
            }
            return choice;
        }
    }
}
