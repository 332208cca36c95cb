// Test-only producer/consumer on the official rocketmq-client 4.9.6, run by the test harness
// with `scripts/rocketmq.sh client ...` (Java's single-file source launcher, no build step).
//
//   produce  NAMESRV TOPIC COUNT [DELAY_LEVEL]   sends COUNT messages (no retries); prints one
//                                                line per message: "ok <queueId> <offset>" or "error <text>"
//   consume  NAMESRV TOPIC GROUP COUNT SECONDS   pulls until COUNT messages were received (or the
//                                                time is up), commits the offsets, prints "consumed N"
import java.util.List;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

public class TestClient {
    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "produce": produce(a[1], a[2], Integer.parseInt(a[3]), a.length > 4 ? Integer.parseInt(a[4]) : 0); break;
            case "consume": consume(a[1], a[2], a[3], Integer.parseInt(a[4]), Integer.parseInt(a[5])); break;
            default: throw new IllegalArgumentException("unknown command " + a[0]);
        }
        System.exit(0);
    }

    static void produce(String namesrv, String topic, int count, int delayLevel) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer("sidecar_test_producer");
        p.setNamesrvAddr(namesrv);
        p.setRetryTimesWhenSendFailed(0);
        p.setSendMsgTimeout(5000);
        p.start();
        for (int i = 0; i < count; i++) {
            Message m = new Message(topic, ("message " + i).getBytes("UTF-8"));
            if (delayLevel > 0) m.setDelayTimeLevel(delayLevel);
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
        // Offsets reach the broker by the periodic persist task (one-way requests); the one at
        // shutdown can be lost with the closing connection, so persist often and wait for it.
        c.setPersistConsumerOffsetInterval(100);
        c.subscribe(topic, "*");
        c.start();
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        int got = 0;
        while (got < count && System.currentTimeMillis() < deadline) {
            List<MessageExt> batch = c.poll();
            got += batch.size();
        }
        c.commitSync();
        Thread.sleep(1000);
        c.shutdown();
        System.out.println("consumed " + got);
    }
}
