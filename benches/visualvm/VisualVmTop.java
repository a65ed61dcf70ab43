/*
 * The VisualVM peer of `heapsleuth analyze`: opens a dump with the heap library VisualVM
 * ships (the NetBeans profiler heap library, package org.graalvm.visualvm.lib.jfluid.heap
 * since VisualVM 2; Debian's `visualvm` package has it in
 * modules/org-graalvm-visualvm-lib-jfluid-heap.jar) and asks for the biggest objects by
 * retained size, the question heapsleuth's dominator tree answers.
 *
 *   javac -cp JAR -d DIR VisualVmTop.java
 *   java -cp JAR:DIR VisualVmTop DUMP [N]
 *
 * The library computes lazily, so each step below is forced by the first call that needs
 * it, and timed on its own: a run killed by benches/bench.py's timeout has still printed
 * the steps it finished and, every 10 s, how far the current one got. Output lines are
 * `key=value` pairs that bench.py parses.
 *
 * The library keeps its index in DUMP.hwcache beside the dump and reuses it on the next
 * open, so bench.py passes a symlink to the dump from a fresh temporary directory: every
 * run then indexes from scratch, and nothing is written beside the user's dump.
 */

import java.io.File;
import java.util.Iterator;
import java.util.List;

import org.graalvm.visualvm.lib.jfluid.heap.Heap;
import org.graalvm.visualvm.lib.jfluid.heap.HeapFactory;
import org.graalvm.visualvm.lib.jfluid.heap.HeapProgress;
import org.graalvm.visualvm.lib.jfluid.heap.Instance;

public final class VisualVmTop {
    private static final long START = System.nanoTime();
    private static volatile String current = "start";
    private static volatile long currentStart = START;

    private static double ms(long from) {
        return (System.nanoTime() - from) / 1e6;
    }

    private static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void begin(String phase) {
        current = phase;
        currentStart = System.nanoTime();
    }

    private static void end() {
        say(String.format("phase=%s wall_ms=%.1f total_ms=%.1f", current, ms(currentStart), ms(START)));
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: java VisualVmTop DUMP [N]");
            System.exit(2);
        }
        File dump = new File(args[0]);
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        // The library reports progress per thread; the ticker reads this thread's.
        long progressId = HeapProgress.getProgressId();
        Thread ticker = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(10_000);
                } catch (InterruptedException e) {
                    return;
                }
                int v = HeapProgress.getProgressValue(progressId);
                say(String.format("progress phase=%s elapsed_ms=%.0f step_done=%.3f", current,
                        ms(currentStart), v < 0 ? 0.0 : (double) v / HeapProgress.PROGRESS_MAX));
            }
        });
        ticker.setDaemon(true);
        ticker.start();

        // Scans the file for its records and class dumps.
        begin("open");
        Heap heap = HeapFactory.createHeap(dump);
        end();

        // The id -> file offset index of every instance, which the summary already needs.
        begin("instances");
        long instances = heap.getSummary().getTotalLiveInstances();
        Iterator<Instance> it = heap.getAllInstancesIterator();
        Instance first = it.hasNext() ? it.next() : null;
        if (first != null) {
            heap.getInstanceByID(first.getInstanceId());
        }
        end();
        say("summary instances=" + instances + " classes=" + heap.getAllClasses().size());

        // The reverse references of every object (the library's "computing references").
        begin("references");
        if (first != null) {
            first.getReferences();
        }
        end();

        // A breadth-first search from the GC roots: each object's nearest root. A root's
        // own answer is known without it, so the question goes to an object that is not one.
        begin("gc-roots");
        Instance probe = first;
        while (probe != null && probe.isGCRoot()) {
            probe = it.hasNext() ? it.next() : null;
        }
        if (probe != null) {
            probe.getNearestGCRootPointer();
        }
        end();

        // The dominator tree and retained sizes, then the answer.
        begin("retained");
        List<Instance> top = heap.getBiggestObjectsByRetainedSize(n);
        end();
        for (Instance i : top) {
            say(String.format("top id=0x%x class=%s retained=%d", i.getInstanceId(),
                    i.getJavaClass().getName(), i.getRetainedSize()));
        }
        say(String.format("done total_ms=%.1f", ms(START)));
        System.exit(0);
    }
}
