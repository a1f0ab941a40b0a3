package org.hvbench.core.covert;

/**
 * Information measures of a binary channel from what the receiver decoded: the binary entropy, the
 * capacity of a binary symmetric channel with the observed error rate, the mutual information of the
 * confusion matrix, and an upper bound on the capacity the samples can show.
 */
public final class Capacity {
    /** z of a one-sided 99.9 % normal bound. */
    static final double Z_999 = 3.090;

    private Capacity() {
    }

    /** H(p) in bits; 0 at p = 0 and p = 1. */
    public static double entropy(double p) {
        if (p <= 0 || p >= 1) {
            return 0;
        }
        return -(p * log2(p) + (1 - p) * log2(1 - p));
    }

    /** Bits per symbol of a binary symmetric channel with error rate {@code p}: 1 − H(p). */
    public static double bscBitsPerSymbol(double p) {
        return 1 - entropy(p);
    }

    /**
     * Mutual information, bits per symbol, of the plug-in estimate from the confusion matrix:
     * {@code counts[sent][decoded]}, sent and decoded in {0, 1}.
     */
    public static double mutualInformation(long[][] counts) {
        double n = 0;
        for (long[] row : counts) {
            for (long c : row) {
                n += c;
            }
        }
        if (n == 0) {
            return 0;
        }
        double mi = 0;
        for (int x = 0; x < 2; x++) {
            double px = (counts[x][0] + counts[x][1]) / n;
            for (int y = 0; y < 2; y++) {
                double pxy = counts[x][y] / n;
                double py = (counts[0][y] + counts[1][y]) / n;
                if (pxy > 0) {
                    mi += pxy * log2(pxy / (px * py));
                }
            }
        }
        return Math.max(0, mi);
    }

    /**
     * The most bits per symbol the channel can carry that {@code errors} in {@code bits} cannot rule
     * out at 99.9 %: 1 − H(p*), where p* is the error rate furthest from ½ that a one-sided normal
     * bound around the observed rate allows. With n bits and p̂ = ½ this is about (z²/(2 ln 2))/n; it falls
     * as more bits are sent, and a channel whose decoder is no better than a coin cannot be shown to
     * carry less with that many samples.
     */
    public static double upperBoundBitsPerSymbol(long errors, long bits) {
        if (bits <= 0) {
            return 1;
        }
        double p = (double) errors / bits;
        double q = Math.min(p, 1 - p);
        double halfWidth = Z_999 * Math.sqrt(0.25 / bits);
        double worst = Math.max(0, Math.min(0.5, q) - halfWidth);
        return bscBitsPerSymbol(worst);
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }
}
