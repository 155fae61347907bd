/*
 * Apache Kafka's own Java client (kafka-clients, from the jars scripts/setup installs for the broker):
 * a client no one here wrote, for tests that must not trust meshpipe's Kafka code to check itself —
 * the broker-chaos test produces its inputs, reads its outputs and asks the cluster questions with it.
 * Compiled and run by apache-kafka-client.ts. Every command prints JSON lines on stdout.
 *
 *   produce <bootstrap> <topic>          stdin lines "<key hex> <value hex>"; idempotent, acks=all,
 *                                        retried until delivered; at end of input prints
 *                                        {"acked":n,"failed":n,"error":...} (exit 1 if any failed)
 *   read <bootstrap> <topic> <timeout s> every record from the beginning to the end, read_committed:
 *                                        {"partition","offset","key","value"} (hex), then {"end":true}
 *   watch <bootstrap> <group> <topic>    every 100 ms until stdin closes: the group's committed offsets
 *                                        and the topic's end offsets, each summed, live brokers and
 *                                        partitions with fewer in-sync replicas than replicas (internal
 *                                        topics included): {"committed","end","brokers","underReplicated"},
 *                                        or {"error"} while the cluster cannot answer
 *   coordinators <bootstrap> <prefix>    each transactional id starting with prefix, with its
 *                                        coordinator (FindCoordinator, via DescribeTransactions)
 */
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

class ApacheKafkaClient {
  static final HexFormat HEX = HexFormat.of();

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "produce" -> produce(args[1], args[2]);
      case "read" -> read(args[1], args[2], Integer.parseInt(args[3]));
      case "watch" -> watch(args[1], args[2], args[3]);
      case "coordinators" -> coordinators(args[1], args[2]);
      default -> throw new IllegalArgumentException("unknown command " + args[0]);
    }
  }

  static String quote(String s) {
    return s == null ? "null" : "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ") + "\"";
  }

  static Admin admin(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", "5000");
    p.put("default.api.timeout.ms", "15000");
    return Admin.create(p);
  }

  static void produce(String bootstrap, String topic) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    p.put("linger.ms", "5");
    // A broker stopped for a while must delay the inputs, never lose them.
    p.put("delivery.timeout.ms", "600000");
    p.put("max.block.ms", "600000");
    p.put("request.timeout.ms", "10000");
    AtomicLong acked = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    AtomicReference<String> error = new AtomicReference<>();
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isEmpty()) continue;
        String[] kv = line.split(" ", 2);
        producer.send(
            new ProducerRecord<>(topic, HEX.parseHex(kv[0]), HEX.parseHex(kv[1])),
            (metadata, e) -> {
              if (e == null) acked.incrementAndGet();
              else {
                failed.incrementAndGet();
                error.compareAndSet(null, e.toString());
              }
            });
      }
      producer.flush();
    }
    System.out.println(
        "{\"acked\":" + acked.get() + ",\"failed\":" + failed.get() + ",\"error\":" + quote(error.get()) + "}");
    System.exit(failed.get() == 0 ? 0 : 1);
  }

  static void read(String bootstrap, String topic, int timeoutSeconds) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic)) {
        partitions.add(new TopicPartition(topic, info.partition()));
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      // read_committed: the last stable offset, past which nothing is known to be committed yet.
      Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
      long deadline = System.currentTimeMillis() + timeoutSeconds * 1000L;
      StringBuilder out = new StringBuilder();
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
        if (System.currentTimeMillis() > deadline) {
          throw new IllegalStateException("not at the end of " + topic + " after " + timeoutSeconds + " s");
        }
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          out.append("{\"partition\":").append(r.partition())
              .append(",\"offset\":").append(r.offset())
              .append(",\"key\":").append(r.key() == null ? "null" : quote(HEX.formatHex(r.key())))
              .append(",\"value\":").append(r.value() == null ? "null" : quote(HEX.formatHex(r.value())))
              .append("}\n");
        }
        System.out.print(out);
        out.setLength(0);
      }
      System.out.println("{\"end\":true}");
    }
  }

  static void watch(String bootstrap, String group, String topic) throws Exception {
    // The test ends it by closing stdin: it must never outlive the test.
    Thread stdin = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {}
      } catch (Exception e) {
        // closed
      }
      System.exit(0);
    });
    stdin.setDaemon(true);
    stdin.start();
    try (Admin admin = admin(bootstrap)) {
      for (;;) {
        try {
          System.out.println(sample(admin, group, topic));
        } catch (Exception e) {
          System.out.println("{\"error\":" + quote(e.toString()) + "}");
        }
        Thread.sleep(100);
      }
    }
  }

  static String sample(Admin admin, String group, String topic) throws Exception {
    Map<TopicPartition, OffsetAndMetadata> offsets =
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    long committed = 0;
    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
      if (e.getKey().topic().equals(topic) && e.getValue() != null) committed += e.getValue().offset();
    }
    int brokers = admin.describeCluster().nodes().get().size();
    var names = admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get();
    Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
    int underReplicated = 0;
    for (TopicDescription d : admin.describeTopics(names).allTopicNames().get().values()) {
      for (TopicPartitionInfo info : d.partitions()) {
        if (info.isr().size() < info.replicas().size()) underReplicated++;
        if (d.name().equals(topic)) latest.put(new TopicPartition(topic, info.partition()), OffsetSpec.latest());
      }
    }
    long end = 0;
    for (var info : admin.listOffsets(latest).all().get().values()) end += info.offset();
    return "{\"committed\":" + committed + ",\"end\":" + end + ",\"brokers\":" + brokers
        + ",\"underReplicated\":" + underReplicated + "}";
  }

  static void coordinators(String bootstrap, String prefix) throws Exception {
    try (Admin admin = admin(bootstrap)) {
      List<String> ids = new ArrayList<>();
      for (TransactionListing t : admin.listTransactions().all().get()) {
        if (t.transactionalId().startsWith(prefix)) ids.add(t.transactionalId());
      }
      Map<String, TransactionDescription> described = admin.describeTransactions(ids).all().get();
      StringBuilder out = new StringBuilder("{");
      for (Map.Entry<String, TransactionDescription> e : described.entrySet()) {
        if (out.length() > 1) out.append(',');
        out.append(quote(e.getKey())).append(":{\"coordinator\":").append(e.getValue().coordinatorId())
            .append(",\"state\":").append(quote(e.getValue().state().toString())).append('}');
      }
      System.out.println(out.append('}'));
    }
  }
}
