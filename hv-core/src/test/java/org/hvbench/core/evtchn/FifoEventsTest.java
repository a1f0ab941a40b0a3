package org.hvbench.core.evtchn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.hvbench.core.Errno;
import org.hvbench.core.cpu.Cpu;
import org.hvbench.core.dev.Machine;
import org.hvbench.core.dev.MachineConfig;
import org.hvbench.core.hv.Domain;
import org.hvbench.core.hv.Hypercall;
import org.hvbench.core.hv.Hypervisor;
import org.hvbench.core.mem.FrameAllocator;
import org.hvbench.core.mem.MachineMemory;
import org.hvbench.core.mem.Translation;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** FIFO events through the hypercalls, between domains of one hypervisor. */
class FifoEventsTest {
    private Machine machine;
    private Hypervisor hv;
    private Cpu cpu;
    private EventChannels channels;
    private FifoEvents fifo;
    private Domain sender;
    private Domain receiver;
    private FifoDispatcher receiverEvents;
    private final List<Integer> ran = new ArrayList<>();

    @BeforeEach
    void boot() {
        machine = new Machine(MachineConfig.defaults().memory(32L << 20));
        cpu = machine.newCpu("cpu0");
        hv = new Hypervisor(machine);
        hv.attach(cpu);
        channels = new EventChannels(hv);
        fifo = new FifoEvents(hv, channels);
        sender = hv.createDomain("sender", "a", 1L << 20, false);
        receiver = hv.createDomain("receiver", "b", 1L << 20, false);
        assertEquals(0, as(receiver, Hypercall.EVTCHN_INIT_CONTROL, receiver.windowStart(), 0));
        receiverEvents = FifoDispatcher.forDomain(hv, receiver, cpu.view(receiver.space()), receiver.windowStart(), 64);
        receiver.setVirqHandler(receiverEvents);
    }

    @AfterEach
    void close() {
        machine.close();
    }

    private long as(Domain d, long cmd, long a1, long a2) {
        cpu.start(d.kernel());
        return hv.hypercall(cpu, Hypercall.EVENT_CHANNEL_OP, cmd, a1, a2, 0);
    }

    /** A port of {@code to} bound to one of {@code from}: {local port of from, port of to}. */
    private int[] connect(Domain from, Domain to) {
        int toPort = (int) as(to, Hypercall.EVTCHN_ALLOC_UNBOUND, from.id(), 0);
        int fromPort = (int) as(from, Hypercall.EVTCHN_BIND_INTERDOMAIN, to.id(), toPort);
        assertTrue(toPort > 0 && fromPort > 0);
        return new int[] {fromPort, toPort};
    }

    @Test
    void initControlWantsTwoFreePagesOfTheWindowOnce() {
        Domain other = hv.createDomain("other", "c", 1L << 20, false);
        assertEquals(-Errno.EINVAL, as(other, Hypercall.EVTCHN_INIT_CONTROL, 0x1000, 0), "RAM, not the window");
        assertEquals(-Errno.EINVAL, as(other, Hypercall.EVTCHN_INIT_CONTROL, other.windowStart() + 8, 0), "misaligned");
        long lastWindowPage = other.windowStart() + ((long) (Domain.WINDOW_PAGES - 1) << MachineMemory.PAGE_SHIFT);
        assertEquals(-Errno.EINVAL, as(other, Hypercall.EVTCHN_INIT_CONTROL, lastWindowPage, 0), "the array would leave the window");
        assertEquals(-Errno.EINVAL, as(other, Hypercall.EVTCHN_INIT_CONTROL, -4096, 0));
        assertEquals(0, as(other, Hypercall.EVTCHN_INIT_CONTROL, other.windowStart(), 0), "the same gpa as the receiver's");
        assertEquals(-Errno.EEXIST, as(other, Hypercall.EVTCHN_INIT_CONTROL, other.windowStart() + 0x10000, 0));
        FifoQueues mine = fifo.queues(other);
        FifoQueues theirs = fifo.queues(receiver);
        assertNotEquals(mine.controlMa(), theirs.controlMa(), "each domain its own frames");
        assertEquals(FrameAllocator.OWNER_HYPERVISOR, machine.frames().owner(mine.arrayMa() >>> MachineMemory.PAGE_SHIFT));
        assertEquals(mine.arrayMa(), Translation.pageBase(other.space().table().translate(other.windowStart()
            + MachineMemory.PAGE_SIZE)), "the array is the page after the control block");
    }

    @Test
    void withoutFifoEventsTheNewCommandsAreUnknown() {
        try (Machine m = new Machine(MachineConfig.defaults().memory(16L << 20))) {
            Cpu c = m.newCpu("cpu0");
            Hypervisor h = new Hypervisor(m);
            h.attach(c);
            new EventChannels(h);
            Domain d = h.createDomain("d", "d", 1L << 20, false);
            c.start(d.kernel());
            assertEquals(-Errno.ENOSYS, h.hypercall(c, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_INIT_CONTROL, d.windowStart(), 0, 0));
            assertEquals(-Errno.ENOSYS, h.hypercall(c, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_SET_PRIORITY, 1, 0, 0));
        }
    }

    @Test
    void aSendReachesAFifoKernelAndNotItsBitmaps() {
        int[] ports = connect(sender, receiver);
        receiverEvents.bind(ports[1], (c, port) -> ran.add(port));
        long sharedInfo = memory().frameChecksum(receiver.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT);
        assertEquals(0, as(sender, Hypercall.EVTCHN_SEND, ports[0], 0));
        assertEquals(List.of(ports[1]), ran, "the receiver ran its handler at once (uniprocessor)");
        assertEquals(0, as(sender, Hypercall.EVTCHN_SEND, ports[0], 0));
        assertEquals(List.of(ports[1], ports[1]), ran);
        assertEquals(sharedInfo, memory().frameChecksum(receiver.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT),
            "the two-level bitmaps are untouched");
        assertEquals(0, channels.delivered(), "the two-level counters see nothing");
        assertEquals(2, fifo.queues(receiver).linked());
        assertEquals(2, fifo.queues(receiver).notifies());
    }

    @Test
    void eventsBehindAMaskAreDeliveredOnceByTheUnmaskHypercall() {
        int[] ports = connect(sender, receiver);
        receiverEvents.bind(ports[1], (c, port) -> ran.add(port));
        assertEquals(0, receiverEvents.mask(ports[1]));
        for (int i = 0; i < 3; i++) {
            assertEquals(0, as(sender, Hypercall.EVTCHN_SEND, ports[0], 0));
        }
        assertTrue(ran.isEmpty());
        cpu.start(receiver.kernel());
        assertEquals(0, receiverEvents.unmask(cpu, ports[1]));
        assertEquals(List.of(ports[1]), ran, "three sends, one delivery, after the unmask");
        assertEquals(0, fifo.queues(receiver).word(ports[1]));
    }

    @Test
    void priorityHypercallOrdersTheReceiversQueues() {
        int[] low = connect(sender, receiver);
        int[] high = connect(sender, receiver);
        receiverEvents.bind(low[1], (c, port) -> ran.add(port));
        receiverEvents.bind(high[1], (c, port) -> ran.add(port));
        cpu.start(receiver.kernel());
        assertEquals(0, receiverEvents.setPriority(cpu, high[1], 0));
        assertEquals(-Errno.EINVAL, receiverEvents.setPriority(cpu, high[1], 16));
        assertEquals(-Errno.EINVAL, receiverEvents.setPriority(cpu, 5000, 1));
        assertEquals(-Errno.ENOENT, as(sender, Hypercall.EVTCHN_SET_PRIORITY, low[0], 1), "the sender has no FIFO control");
        // Both pending before the kernel looks: mask both, send both, unmask both in the receiver.
        receiverEvents.mask(low[1]);
        receiverEvents.mask(high[1]);
        as(sender, Hypercall.EVTCHN_SEND, low[0], 0);
        as(sender, Hypercall.EVTCHN_SEND, high[0], 0);
        FifoQueues q = fifo.queues(receiver);
        receiver.setVirqHandler(null); // the kernel looks only when both are queued
        assertEquals(FifoQueues.NOTIFY, q.unmask(low[1]));
        assertEquals(0, q.unmask(high[1]));
        receiver.setVirqHandler(receiverEvents);
        assertEquals(FifoQueues.NOTIFY, q.drain(), "the hypervisor's links, on the receiver's CPU");
        assertEquals(2, receiverEvents.consume(cpu));
        assertEquals(List.of(high[1], low[1]), ran);
    }

    /**
     * A receiver on a CPU of its own, driven by another thread: a send from this CPU only claims the
     * port and leaves it in the inbox; the receiver's CPU links it when it takes the IPI, before the
     * upcall, on its own thread.
     */
    @Test
    void aSendFromAnotherCpuIsLinkedOnTheReceiversOwnCpu() throws InterruptedException {
        Domain remote = hv.createDomain("remote", "r", 1L << 20, false);
        Cpu home = machine.newCpu("cpu1");
        hv.runOn(remote, home);
        home.start(remote.kernel());
        assertEquals(0, hv.hypercall(home, Hypercall.EVENT_CHANNEL_OP, Hypercall.EVTCHN_INIT_CONTROL, remote.windowStart(), 0, 0));
        FifoDispatcher remoteEvents = FifoDispatcher.forDomain(hv, remote, home.view(remote.space()), remote.windowStart(), 64);
        remote.setVirqHandler(remoteEvents);
        int[] ports = connect(sender, remote);
        List<Thread> ranOn = new ArrayList<>();
        remoteEvents.bind(ports[1], (c, port) -> ranOn.add(Thread.currentThread()));
        Throwable[] failure = new Throwable[1];
        Thread homeThread = new Thread(() -> {
            try {
                home.deliverInterrupts();
            } catch (Throwable t) {
                failure[0] = t;
            }
        }, "cpu1");
        home.setOwner(homeThread);

        assertEquals(0, as(sender, Hypercall.EVTCHN_SEND, ports[0], 0));
        FifoQueues q = fifo.queues(remote);
        assertEquals(1, q.notifies(), "the port was the first in the inbox: an IPI to cpu1");
        assertEquals(0, q.linked(), "this CPU did not link");
        assertEquals(FifoLayout.PENDING | FifoLayout.LINKED | FifoLayout.BUSY, q.word(ports[1]));
        assertTrue(home.hasWork());
        assertTrue(ranOn.isEmpty());

        homeThread.start();
        homeThread.join(20_000);
        assertTrue(!homeThread.isAlive() && failure[0] == null, "cpu1 failed or did not finish: " + failure[0]);
        assertEquals(List.of(homeThread), ranOn, "linked and run on the receiver's CPU");
        assertEquals(1, q.linked());
        assertEquals(0, q.word(ports[1]));
    }

    /** A hostile FIFO domain scribbles over its own words; others' words and deliveries are unaffected. */
    @Test
    void aHostileDomainsWordsNeverReachAnotherDomain() {
        Domain hostile = hv.createDomain("hostile", "h", 1L << 20, false);
        assertEquals(0, as(hostile, Hypercall.EVTCHN_INIT_CONTROL, hostile.windowStart(), 0));
        FifoDispatcher hostileEvents = FifoDispatcher.forDomain(hv, hostile, cpu.view(hostile.space()), hostile.windowStart(), 16);
        hostile.setVirqHandler(hostileEvents);
        int[] toHostile = connect(sender, hostile);
        int[] toReceiver = connect(sender, receiver);
        receiverEvents.bind(toReceiver[1], (c, port) -> ran.add(port));
        FifoQueues h = fifo.queues(hostile);
        FifoQueues r = fifo.queues(receiver);
        long receiverControl = memory().frameChecksum(r.controlMa() >>> MachineMemory.PAGE_SHIFT);
        long receiverArray = memory().frameChecksum(r.arrayMa() >>> MachineMemory.PAGE_SHIFT);
        long receiverInfo = memory().frameChecksum(receiver.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT);
        Random random = new Random(11);
        for (int round = 0; round < 50; round++) {
            for (int i = 0; i < MachineMemory.PAGE_SIZE; i += 4) {
                memory().putInt(h.arrayMa() + i, random.nextInt());
                memory().putInt(h.controlMa() + i, random.nextInt());
            }
            for (int i = 0; i < 50; i++) {
                assertEquals(0, as(sender, Hypercall.EVTCHN_SEND, toHostile[0], 0));
                long u = as(hostile, Hypercall.EVTCHN_UNMASK, random.nextInt(1100) - 20, 0);
                assertTrue(u == 0 || u == -Errno.EINVAL || u == -Errno.EAGAIN, "unmask " + u);
                long p = as(hostile, Hypercall.EVTCHN_SET_PRIORITY, random.nextInt(1100) - 20, random.nextInt(20) - 2);
                assertTrue(p == 0 || p == -Errno.EINVAL, "priority " + p);
            }
        }
        assertEquals(receiverControl, memory().frameChecksum(r.controlMa() >>> MachineMemory.PAGE_SHIFT));
        assertEquals(receiverArray, memory().frameChecksum(r.arrayMa() >>> MachineMemory.PAGE_SHIFT));
        assertEquals(receiverInfo, memory().frameChecksum(receiver.sharedInfoMa() >>> MachineMemory.PAGE_SHIFT));
        assertEquals(0, as(sender, Hypercall.EVTCHN_SEND, toReceiver[0], 0));
        assertEquals(List.of(toReceiver[1]), ran, "the well-behaved receiver still gets its event");
    }

    private MachineMemory memory() {
        return machine.memory();
    }
}
