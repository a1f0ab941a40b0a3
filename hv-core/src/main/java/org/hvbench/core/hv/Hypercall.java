package org.hvbench.core.hv;

/**
 * Hypercall numbers and sub-operations of the register ABI
 * {@code long hypercall(cpu, op, a0, a1, a2, a3)}. Numbers shared with Xen keep Xen's values
 * ({@code xen/include/public/xen.h}); the block service, which Xen does not have (its drivers live in
 * dom0), takes the first of Xen's architecture-specific slots.
 *
 * <pre>
 * | op             | a0           | a1                 | a2        | result                          |
 * |----------------|--------------|--------------------|-----------|---------------------------------|
 * | MULTICALL 13   | gpa of calls | count (1..32)      |           | 0; each call's result written back |
 * | DM_OP 41       | DM_INJECT_IRQ| guest domain id    |           | 0 (privileged callers only)     |
 * | CONSOLE_IO 18  | CONSOLE_WRITE| length (0..256)    | gpa       | bytes written                   |
 * | BLOCK_IO 48    | BLOCK_SETUP  | gpa of response queue page | entries | 0                         |
 * | BLOCK_IO 48    | BLOCK_SUBMIT | gpa of blkif requests | count (1..32) | requests accepted (all)  |
 * | IOMMU_OP 49    | IOMMU_OWN_TABLE, _MAP, _UNMAP, _FLUSH | device | iova | see {@code IommuOps} |
 * </pre>
 *
 * A multicall entry is 64 bytes: op u64 at 0, result u64 at 8 (written by the hypervisor), a0..a3 u64
 * at 16, 24, 32, 40. A multicall may not contain a multicall.
 */
public final class Hypercall {
    public static final int MULTICALL = 13;
    public static final int CONSOLE_IO = 18;
    public static final int GRANT_TABLE_OP = 20;
    public static final int EVENT_CHANNEL_OP = 32;
    public static final int BLOCK_IO = 48;
    /** A device owner's own I/O page table (the second architecture-specific slot). */
    public static final int IOMMU_OP = 49;
    public static final int IOMMU_OWN_TABLE = 0;
    public static final int IOMMU_MAP = 1;
    public static final int IOMMU_UNMAP = 2;
    public static final int IOMMU_FLUSH = 3;
    /**
     * A TPM command to the caller's vTPM in the hypervisor (hvbench's own number, as {@code BLOCK_IO}
     * and {@code IOMMU_OP} are: Xen keeps its vTPMs in a domain): a0 = gpa of a page holding the
     * command, which the response replaces; a1 = the command's length (1 to 4096, within the page);
     * a2 = locality -> the response's length; -EINVAL, -EFAULT, or -ENODEV when the caller has no vTPM.
     */
    public static final int TPM_OP = 50;
    /**
     * A guest's dynamic launch (hvbench's own number; on hardware, SKINIT or SENTER, which a
     * hypervisor intercepts): a0 = {@code LATE_LAUNCH_START} with a1 = gpa of the secure loader (page
     * aligned), a2 = its length (1 to 64 KiB) -> 0: its frames kept from every device, its SHA-256 in
     * PCR 17 of the caller's vTPM at locality 4; a0 = {@code LATE_LAUNCH_END} lifts the protection.
     * -EINVAL, -EFAULT, -EBUSY (a launch is on), -ENODEV (no vTPM).
     */
    public static final int LATE_LAUNCH = 51;
    public static final int LATE_LAUNCH_START = 0;
    public static final int LATE_LAUNCH_END = 1;
    /** The largest secure loader: SKINIT's 64 KiB secure loader block. */
    public static final int LATE_LAUNCH_MAX_BYTES = 64 << 10;
    /** Device-model operations of a privileged emulator (Xen's dm_op): inject an interrupt into a guest. */
    public static final int DM_OP = 41;
    /** Xen's {@code __HYPERVISOR_xsm_op} (formerly {@code acm_op}): the access-control module's own calls. */
    public static final int XSM_OP = 27;
    /**
     * {@code XSM_OP}: load the compiled policy at (gpa a1, length a2); a3 is what to do with live
     * bindings it forbids, 0 refuse the policy ({@code -EBUSY}), 1 revoke them. The Policy Manager only.
     */
    public static final int ACM_SET_POLICY = 1;
    /** {@code XSM_OP}: copy the active compiled policy to (gpa, length); returns its length. The Policy Manager only. */
    public static final int ACM_GET_POLICY = 2;
    /** {@code XSM_OP}: copy the label of domain a1 to (gpa, length); returns its length. The Policy Manager only. */
    public static final int ACM_GET_SSID = 4;
    /** {@code XSM_OP}: may domains a1 and a2 share? 0 or {@code -EACCES}. A privileged domain (a back end) asks it. */
    public static final int ACM_GET_DECISION = 5;
    /**
     * {@code XSM_OP}: may domain a1 use a resource labelled with the (gpa a2, length a3) UTF-8 label,
     * a virtual device its toolstack labelled? 0 or {@code -EACCES}. A privileged domain (a back end,
     * before it connects a front end) asks it. Not Xen's number: Xen 3's ACM left resource labels to
     * the toolstack; here the back end asks the module, as the paper's figure 4 (ii) has it.
     */
    public static final int ACM_GET_RESOURCE_DECISION = 8;

    /** Event channel commands (a0 of EVENT_CHANNEL_OP), Xen's numbers. */
    public static final int EVTCHN_BIND_INTERDOMAIN = 0;
    public static final int EVTCHN_CLOSE = 3;
    public static final int EVTCHN_SEND = 4;
    public static final int EVTCHN_ALLOC_UNBOUND = 6;
    public static final int EVTCHN_UNMASK = 9;
    /** FIFO events (Xen's numbers); see {@code org.hvbench.core.evtchn.FifoEvents}. */
    public static final int EVTCHN_INIT_CONTROL = 11;
    public static final int EVTCHN_SET_PRIORITY = 13;

    /** Grant table commands (a0 of GRANT_TABLE_OP), Xen's numbers. */
    public static final int GNTTAB_MAP = 0;
    public static final int GNTTAB_UNMAP = 1;
    public static final int GNTTAB_SETUP = 2;
    public static final int GNTTAB_COPY = 5;

    /** dm_op command: raise the emulated device's interrupt in the guest (a1 = guest domain id). */
    public static final int DM_INJECT_IRQ = 0;

    public static final int CONSOLE_WRITE = 0;
    public static final int CONSOLE_MAX_BYTES = 256;

    public static final int BLOCK_SETUP = 0;
    public static final int BLOCK_SUBMIT = 1;

    public static final int MULTICALL_MAX = 32;
    public static final int MULTICALL_ENTRY_BYTES = 64;
    public static final int MULTICALL_OP = 0;
    public static final int MULTICALL_RESULT = 8;
    public static final int MULTICALL_ARGS = 16;

    private Hypercall() {
    }

    public static String name(int op) {
        switch (op) {
            case MULTICALL: return "multicall";
            case CONSOLE_IO: return "console_io";
            case GRANT_TABLE_OP: return "grant_table_op";
            case EVENT_CHANNEL_OP: return "event_channel_op";
            case DM_OP: return "dm_op";
            case BLOCK_IO: return "block_io";
            case IOMMU_OP: return "iommu_op";
            default: return "hypercall " + op;
        }
    }
}
