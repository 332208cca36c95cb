// Test-only producers and consumers on the official rocketmq-client of the version under test
// (4.9.6 or 5.x: ROCKETMQ_VERSION), run by the test harness with `scripts/rocketmq.sh client ...`,
// which compiles it once per version into .cache/rocketmq/. It compiles against both lines: what
// moved between them is reached by reflection.
//
//   produce  NAMESRV TOPIC COUNT [DELAY]         sends COUNT messages (no retries); prints one
//                                                line per message: "ok <queueId> <offset>" or "error <text>".
//                                                DELAY: a delay level (1-18), or "in=SECONDS" for a delivery
//                                                time that far ahead (5.x timer wheel, setDeliverTimeMs)
//   consume  NAMESRV TOPIC GROUP COUNT SECONDS   pulls until COUNT messages were received (or the
//                                                time is up), commits the offsets, prints "consumed N"
//
// Long-running helpers, the way applications run them; each runs until its standard input closes
// (the test drops it, or dies) or SECONDS pass, and prints a line as each thing happens:
//
//   push NAMESRV TOPIC GROUP CLUSTERING|BROADCASTING SECONDS [hold=MS] [later] [threads=N] [pop]
//        a DefaultMQPushConsumer with the client's own offset-save timing (first save ~10 s after
//        start, then every 5 s; BROADCASTING keeps offsets in a local file). Prints "started
//        <clientId>", then "assigned" once its rebalance gave it a queue of TOPIC (the queue's start
//        offset is fixed by then: a BROADCASTING consumer's is the end of the queue at that moment),
//        then per message it finished "msg <epochMs> <broker> <queueId> <offset> <reconsumeTimes>".
//        hold=MS: the first message is held MS ms before it is acknowledged; later: each message's
//        first delivery answers RECONSUME_LATER (it comes back via retry).
//        pop (5.x): the broker assigns the queues (clientRebalance off), so a group whose request
//        mode is POP (mqadmin setConsumeMode) pops messages and acks them one by one.
//        invisible=MS (5.x, with pop): how long a popped message stays invisible before the broker
//        hands it out again unless acked (default 60 s).
//   produce-loop NAMESRV TOPIC PER_SECOND SECONDS
//        a DefaultMQProducer sending steadily with the default route refresh (30 s). Prints
//        "ok <epochMs> <broker> <queueId> <offset>" or "error <epochMs> <text>" per send.
//   watch KEYS ADDR...
//        the official admin client (DefaultMQAdminExt.getBrokerConfig) asking each broker for its
//        config about once a second, one thread per broker, 1.5 s per call: the ground truth of
//        scripts/chaos.sh. Prints "cfg <epochMs> <addr> <brokerRole> <brokerId> k=v,..." (the
//        comma-separated KEYS, "-" when absent) or "cfgerr <epochMs> <addr> <text>".
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.common.message.MessageExt;

@SuppressWarnings("deprecation")
public class TestClient {
    public static void main(String[] a) throws Exception {
        try {
            run(a);
        } catch (Throwable e) {
            // Without this, the client library's non-daemon threads would keep a failed client alive.
            e.printStackTrace();
            System.exit(3);
        }
    }

    static void run(String[] a) throws Exception {
        switch (a[0]) {
            case "produce": produce(a[1], a[2], Integer.parseInt(a[3]), a.length > 4 ? a[4] : "0"); break;
            case "consume": consume(a[1], a[2], a[3], Integer.parseInt(a[4]), Integer.parseInt(a[5])); break;
            case "push": push(a); break;
            case "produce-loop": produceLoop(a[1], a[2], Double.parseDouble(a[3]), Integer.parseInt(a[4])); break;
            case "watch": watch(a); break;
            default: throw new IllegalArgumentException("unknown command " + a[0]);
        }
        System.exit(0);
    }

    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** Ends the process when standard input closes: the test dropped the helper, or died. */
    static void exitWhenStdinCloses() {
        Thread t = new Thread(() -> {
            try {
                while (System.in.read() != -1) { }
            } catch (Exception ignored) { }
            System.exit(0);
        });
        t.setDaemon(true);
        t.start();
    }

    static void produce(String namesrv, String topic, int count, String delay) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer("sidecar_test_producer");
        p.setNamesrvAddr(namesrv);
        p.setRetryTimesWhenSendFailed(0);
        p.setSendMsgTimeout(5000);
        p.start();
        for (int i = 0; i < count; i++) {
            Message m = new Message(topic, ("message " + i).getBytes("UTF-8"));
            if (delay.startsWith("in=")) {
                long at = System.currentTimeMillis() + Long.parseLong(delay.substring(3)) * 1000L;
                Message.class.getMethod("setDeliverTimeMs", long.class).invoke(m, at); // 5.x only
            } else if (Integer.parseInt(delay) > 0) {
                m.setDelayTimeLevel(Integer.parseInt(delay));
            }
            try {
                SendResult r = p.send(m);
                System.out.println("ok " + r.getMessageQueue().getQueueId() + " " + r.getQueueOffset());
            } catch (Exception e) {
                System.out.println("error " + String.valueOf(e.getMessage()).replace('\n', ' '));
            }
        }
        p.shutdown();
    }

    static void consume(String namesrv, String topic, String group, int count, int seconds) throws Exception {
        DefaultLitePullConsumer c = new DefaultLitePullConsumer(group);
        c.setNamesrvAddr(namesrv);
        c.setAutoCommit(false);
        c.setPollTimeoutMillis(500);
        c.subscribe(topic, "*");
        c.start();
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        int got = 0;
        while (got < count && System.currentTimeMillis() < deadline) {
            List<MessageExt> batch = c.poll();
            got += batch.size();
        }
        c.commitSync();
        // Offsets reach the broker as one-way requests. The client's periodic persist first runs
        // 10 s after start (MQClientInstance.startScheduledTask), and the one at shutdown can be
        // lost with the closing connection: send them now, on the live connection, and give the
        // broker a second to take them before closing it.
        c.commit(c.assignment(), true);
        Thread.sleep(1000);
        c.shutdown();
        System.out.println("consumed " + got);
    }

    static void push(String[] a) throws Exception {
        String namesrv = a[1], topic = a[2], group = a[3];
        int seconds = Integer.parseInt(a[5]);
        long hold = 0;
        boolean later = false;
        int threads = 1;
        boolean pop = false;
        long invisible = 0;
        for (int i = 6; i < a.length; i++) {
            if (a[i].startsWith("hold=")) hold = Long.parseLong(a[i].substring(5));
            else if (a[i].equals("later")) later = true;
            else if (a[i].startsWith("threads=")) threads = Integer.parseInt(a[i].substring(8));
            else if (a[i].equals("pop")) pop = true;
            else if (a[i].startsWith("invisible=")) invisible = Long.parseLong(a[i].substring(10));
            else throw new IllegalArgumentException("unknown push option " + a[i]);
        }
        exitWhenStdinCloses();
        final long holdMs = hold;
        final boolean reconsumeLater = later;
        final AtomicBoolean held = new AtomicBoolean(false);
        DefaultMQPushConsumer c;
        // A start fails when its route lookup at a name server fails (e.g. past its 3 s timeout on a
        // loaded machine); the client's threads then keep the JVM alive with nothing printed. Started
        // again, as an application's supervisor would, a few times; then the JVM ends with the error.
        for (int attempt = 1; ; attempt++) {
            c = new DefaultMQPushConsumer(group);
            c.setNamesrvAddr(namesrv);
            setMessageModel(c, a[4]);
            if (pop) c.getClass().getMethod("setClientRebalance", boolean.class).invoke(c, false); // 5.x only
            if (invisible > 0) c.getClass().getMethod("setPopInvisibleTime", long.class).invoke(c, invisible);
            c.setInstanceName("sidecar-test-" + ProcessHandle.current().pid());
            // One thread by default, so a held message holds the queue: what is behind is exact.
            c.setConsumeThreadMin(threads);
            c.setConsumeThreadMax(threads);
            c.subscribe(topic, "*");
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    if (holdMs > 0 && held.compareAndSet(false, true)) {
                        say("holding " + m.getQueueId() + " " + m.getQueueOffset());
                        try { Thread.sleep(holdMs); } catch (InterruptedException ignored) { }
                    }
                    if (reconsumeLater && m.getReconsumeTimes() == 0) {
                        say("later " + System.currentTimeMillis() + " " + m.getBrokerName() + " " + m.getQueueId() + " " + m.getQueueOffset());
                        return ConsumeConcurrentlyStatus.RECONSUME_LATER;
                    }
                    say("msg " + System.currentTimeMillis() + " " + m.getBrokerName() + " " + m.getQueueId() + " "
                        + m.getQueueOffset() + " " + m.getReconsumeTimes());
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            try {
                c.start();
                break;
            } catch (Exception e) {
                System.err.println("push: start " + attempt + " failed: " + e);
                c.shutdown();
                if (attempt == 5) throw e;
                Thread.sleep(1000);
            }
        }
        say("started " + c.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId());
        sayWhenAssigned(c, topic);
        Thread.sleep(seconds * 1000L);
        c.shutdown();
    }

    /**
     * Prints "assigned" once the rebalance put a queue of `topic` in the consumer's process-queue
     * table: the client computes a queue's start offset before it adds the queue there, so a test
     * that waits for this line knows where the consumer starts (no sleep guessing it). Not printed
     * for POP (the broker assigns the queues, the table stays empty).
     */
    static void sayWhenAssigned(DefaultMQPushConsumer c, String topic) {
        Thread t = new Thread(() -> {
            try {
                while (true) {
                    for (MessageQueue mq : c.getDefaultMQPushConsumerImpl().getRebalanceImpl().getProcessQueueTable().keySet()) {
                        if (mq.getTopic().equals(topic)) {
                            say("assigned");
                            return;
                        }
                    }
                    Thread.sleep(50);
                }
            } catch (InterruptedException ignored) { }
        });
        t.setDaemon(true);
        t.start();
    }

    /** MessageModel moved from common.protocol (4.x) to remoting.protocol (5.x). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static void setMessageModel(DefaultMQPushConsumer c, String name) throws Exception {
        Class model = c.getMessageModel().getDeclaringClass();
        c.getClass().getMethod("setMessageModel", model).invoke(c, Enum.valueOf(model, name));
    }

    static void produceLoop(String namesrv, String topic, double perSecond, int seconds) throws Exception {
        exitWhenStdinCloses();
        DefaultMQProducer p = new DefaultMQProducer("sidecar_test_loop_producer");
        p.setNamesrvAddr(namesrv);
        p.setInstanceName("sidecar-test-" + ProcessHandle.current().pid());
        p.setSendMsgTimeout(3000);
        p.start();
        say("started");
        long gap = (long) (1000 / perSecond);
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        for (int i = 0; System.currentTimeMillis() < deadline; i++) {
            Message m = new Message(topic, ("loop message " + i).getBytes("UTF-8"));
            try {
                SendResult r = p.send(m);
                say("ok " + System.currentTimeMillis() + " " + r.getMessageQueue().getBrokerName() + " "
                    + r.getMessageQueue().getQueueId() + " " + r.getQueueOffset());
            } catch (Exception e) {
                say("error " + System.currentTimeMillis() + " " + String.valueOf(e.getMessage()).replace('\n', ' '));
            }
            Thread.sleep(gap);
        }
        p.shutdown();
    }

    /** Ground truth for the chaos campaign: each broker's own config, from the official admin client. */
    static void watch(String[] a) throws Exception {
        exitWhenStdinCloses();
        String[] keys = a[1].split(",");
        org.apache.rocketmq.tools.admin.DefaultMQAdminExt admin = new org.apache.rocketmq.tools.admin.DefaultMQAdminExt(1500);
        admin.setInstanceName("sidecar-watch-" + ProcessHandle.current().pid());
        admin.start();
        say("started");
        for (int i = 2; i < a.length; i++) {
            final String addr = a[i];
            Thread t = new Thread(() -> {
                while (true) {
                    long at = System.currentTimeMillis();
                    try {
                        Properties p = admin.getBrokerConfig(addr);
                        StringBuilder kv = new StringBuilder();
                        for (String k : keys) {
                            if (kv.length() > 0) kv.append(',');
                            kv.append(k).append('=').append(p.getProperty(k, "-"));
                        }
                        say("cfg " + at + " " + addr + " " + p.getProperty("brokerRole", "-") + " "
                            + p.getProperty("brokerId", "-") + " " + kv);
                    } catch (Throwable e) {
                        say("cfgerr " + at + " " + addr + " " + String.valueOf(e.getMessage()).replace('\n', ' '));
                    }
                    long rest = 1000 - (System.currentTimeMillis() - at);
                    try { if (rest > 0) Thread.sleep(rest); } catch (InterruptedException ignored) { return; }
                }
            });
            t.setDaemon(true);
            t.start();
        }
        Thread.sleep(Long.MAX_VALUE);
    }
}
