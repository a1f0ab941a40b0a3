package org.hvbench.bench;

/** Values the build writes in (from the parent pom's properties), so they live in one place. */
public final class BuildFlags {
    /** Agrona 2.x needs this at run time; every benchmark fork gets it through {@code @Fork(jvmArgsAppend)}. */
    public static final String ADD_OPENS_FLAG = "--add-opens";
    public static final String ADD_OPENS_VALUE = "${agrona.opens}=ALL-UNNAMED";

    private BuildFlags() {
    }
}
