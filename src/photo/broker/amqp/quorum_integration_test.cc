// Quorum queues (PHOTO_PIPELINE_QUEUE_TYPE=quorum) and node lists, against the
// shared test node (fixture "rabbitmq"): a one-node cluster runs quorum
// queues with one member, which is enough to check what RabbitMQ 3.10
// accepts and does with our arguments. Failover between live nodes is in
// broker_amqp_fault_test (it kills its node) and the three-host test.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "photo/broker/amqp/amqp_publisher.h"
#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/consumer_loop.h"
#include "photo/broker/amqp/testing.h"
#include "photo/broker/amqp/topology.h"

namespace photo::broker::amqp {
namespace {

using namespace std::chrono_literals;
using testing::RawClient;
using testing::TestConfig;
using testing::UniqueName;
using testing::WaitFor;
using Clock = std::chrono::steady_clock;

class QuorumTest : public testing::BrokerTest {
 protected:
  // Quorum queues are Raft servers on the shared node: remove them after use.
  void TearDown() override {
    if (testing::TestUrl().empty()) return;
    RawClient raw;
    for (const std::string& q : cleanup_) raw.DeleteQueue(q);
  }
  void StageQueues(const std::string& stage, const AmqpConfig& c) {
    cleanup_.insert(cleanup_.end(), {stage, ParkingQueueName(stage)});
    for (size_t i = 0; i < c.retry_delays.size(); ++i) {
      cleanup_.push_back(RetryQueueName(stage, static_cast<int>(i) + 1));
    }
  }
  std::vector<std::string> cleanup_;
};

OutgoingMessage ToQueue(const std::string& queue, const std::string& id) {
  OutgoingMessage m;
  m.routing_key = queue;
  m.body = "{\"id\":\"" + id + "\"}";
  m.message_id = id;
  return m;
}

AmqpConfig QuorumConfig() {
  AmqpConfig c = TestConfig();
  c.queue_type = QueueType::kQuorum;
  return c;
}

TEST_F(QuorumTest, QuorumTopologyIsAcceptedAndIdempotent) {
  AmqpConfig c = QuorumConfig();
  const std::string stage = UniqueName("qstage");
  c.stages = {stage};
  c.event_queues = {EventQueueName(UniqueName("qsub"))};
  StageQueues(stage, c);
  cleanup_.push_back(c.event_queues[0]);
  Status s = DeclareTopology(c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = DeclareTopology(c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  RawClient raw;
  for (const std::string& q : {stage, stage + ".retry.3", stage + ".parking", c.event_queues[0]}) {
    EXPECT_EQ(raw.Count(q), 0) << q;
  }
  // A process still configured for classic queues meets the quorum ones:
  // it uses them as they are (logged) rather than failing every connect.
  AmqpConfig classic = c;
  classic.queue_type = QueueType::kClassic;
  s = DeclareTopology(classic);
  EXPECT_TRUE(s.ok()) << s.ToString();
  // And the other way round: quorum configured, classic queues exist.
  const std::string old = UniqueName("qold");
  cleanup_.push_back(old);
  raw.DeclareQueue(old);
  AmqpConfig moved = c;
  moved.stages = {old};
  moved.event_queues.clear();
  StageQueues(old, moved);
  s = DeclareTopology(moved);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// RabbitMQ 3.10 is the first release whose quorum queues support message
// TTL; the retry queues rely on it (expiry dead-letters the job back).
TEST_F(QuorumTest, RetryQueuesExpireBackToTheWorkQueue) {
  AmqpConfig c = QuorumConfig();
  c.retry_delays = {300ms, 900ms};
  const std::string stage = UniqueName("qretry");
  StageQueues(stage, c);
  std::mutex mu;
  std::vector<std::pair<int, Clock::time_point>> seen;
  ConsumerOptions o;
  o.queue = stage;
  ConsumerLoop loop(c, o, [&](const Delivery& d, std::stop_token) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(d.attempt, Clock::now());
    if (d.attempt < 3) return Disposition::Retry(UnavailableError("store_down", "db away"));
    return Disposition::Ack();
  });
  std::jthread t([&](std::stop_token st) { (void)loop.Run(st); });
  ASSERT_TRUE(WaitFor([&] { return loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  Status s = pub.Publish(ToQueue(stage, "r1"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(WaitFor([&] { return loop.stats().acked == 1; }, 15s));
  t.request_stop();
  t.join();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].first, 2);
  EXPECT_EQ(seen[2].first, 3);
  EXPECT_GE(seen[1].second - seen[0].second, 300ms);
  EXPECT_GE(seen[2].second - seen[1].second, 900ms);
  RawClient raw;
  EXPECT_EQ(raw.Count(stage + ".retry.1"), 0);
  EXPECT_EQ(raw.Count(stage + ".parking"), 0);
}

// The broker-side backstop: a message whose consumer dies every time (a
// decoder crash, OOM) is parked after x-delivery-limit returns, without any
// help from the worker.
TEST_F(QuorumTest, DeliveryLimitParksACrashLoop) {
  AmqpConfig c = QuorumConfig();
  c.delivery_limit = 2;
  const std::string stage = UniqueName("qlimit");
  c.stages = {stage};
  StageQueues(stage, c);
  ASSERT_TRUE(DeclareTopology(c).ok());
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "poison")).ok());
  int deliveries = 0;
  for (int i = 0; i < 5; ++i) {
    RawClient worker;
    auto got = worker.WaitGet(stage, 3s, /*ack=*/false);
    if (!got) break;
    ++deliveries;
    EXPECT_EQ(got->message_id, "poison");
    worker.Crash();
  }
  EXPECT_EQ(deliveries, 3);  // the first delivery and `delivery_limit` returns
  RawClient raw;
  auto parked = raw.WaitGet(stage + ".parking", 5s);
  ASSERT_TRUE(parked.has_value());
  EXPECT_EQ(parked->message_id, "poison");
  EXPECT_EQ(raw.Count(stage), 0);
}

TEST_F(QuorumTest, ANodeListSkipsADeadNode) {
  AmqpConfig c = TestConfig();
  // Nothing listens on port 1: refused at once, as by a stopped node.
  c.url = "amqp://guest:guest@127.0.0.1:1/," + testing::TestUrl();
  auto live = ParseAmqpUrl(testing::TestUrl());
  ASSERT_TRUE(live.ok());
  for (int i = 0; i < 6; ++i) {
    auto conn = Connection::Open(c, "test-list");
    ASSERT_TRUE(conn.ok()) << conn.error().ToString();
    EXPECT_EQ((*conn)->node(), NodeName(*live));
  }
  const std::string q = UniqueName("list");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisher pub(c);
  EXPECT_TRUE(pub.Publish(ToQueue(q, "l1")).ok());
  EXPECT_EQ(raw.Count(q), 1);
  raw.DeleteQueue(q);

  AmqpConfig dead = TestConfig();
  dead.url = "amqp://guest:guest@127.0.0.1:1/,amqp://guest:guest@127.0.0.1:2/";
  auto none = Connection::Open(dead, "test-list");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().reason(), "broker_unavailable");
  EXPECT_NE(none.error().message().find("none of the 2 nodes"), std::string::npos);
  EXPECT_NE(none.error().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_NE(none.error().message().find("127.0.0.1:2"), std::string::npos);
}

}  // namespace
}  // namespace photo::broker::amqp
