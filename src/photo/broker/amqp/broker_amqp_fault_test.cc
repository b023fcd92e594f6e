// Faults against a private RabbitMQ node (ctest fixture "rabbitmq_private"):
// connections closed by the broker, graceful restart, kill -9. The tests run
// one at a time (RESOURCE_LOCK) since they disturb the node.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "photo/broker/amqp/amqp_publisher.h"
#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/consumer_loop.h"
#include "photo/broker/amqp/publisher_pool.h"
#include "photo/broker/amqp/testing.h"

namespace photo::broker::amqp {
namespace {

using namespace std::chrono_literals;
using testing::RawClient;
using testing::TestConfig;
using testing::UniqueName;
using testing::WaitFor;

class FaultTest : public testing::BrokerTest {
 protected:
  void SetUp() override {
    testing::BrokerTest::SetUp();
    if (IsSkipped()) return;
    // A previous test may have left the node down if it failed half-way.
    ASSERT_EQ(testing::RabbitmqScript("start >/dev/null 2>&1"), 0);
  }
};

OutgoingMessage ToQueue(const std::string& queue, const std::string& id) {
  OutgoingMessage m;
  m.routing_key = queue;
  m.body = "{\"id\":\"" + id + "\"}";
  m.message_id = id;
  return m;
}

struct Seen {
  std::string id;
  bool redelivered;
};

TEST_F(FaultTest, ConnectionLossDuringAJobRedeliversItAndTheLoopRecovers) {
  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("drop");
  std::mutex mu;
  std::vector<Seen> seen;
  std::atomic<bool> release{false};
  ConsumerOptions o;
  o.queue = stage;
  ConsumerLoop loop(c, o, [&](const Delivery& d, std::stop_token) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back({d.message_id, d.redelivered});
    }
    while (!release.load()) std::this_thread::sleep_for(10ms);
    return Disposition::Ack();
  });
  std::jthread t([&](std::stop_token st) { (void)loop.Run(st); });
  ASSERT_TRUE(WaitFor([&] { return loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "j1")).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return seen.size() == 1;
      },
      5s));
  // The broker drops every client connection while the job runs.
  ASSERT_EQ(testing::RabbitmqScript("ctl -q close_all_connections test-drop >/dev/null"), 0);
  ASSERT_TRUE(WaitFor([&] { return loop.stats().connects >= 2 && loop.consuming(); }, 15s));
  release = true;  // the first run finishes on a dead session: not acked
  ASSERT_TRUE(WaitFor([&] { return loop.stats().acked == 1; }, 10s));
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_FALSE(seen[0].redelivered);
    EXPECT_TRUE(seen[1].redelivered);
    EXPECT_EQ(seen[1].id, "j1");
  }
  EXPECT_GE(loop.stats().abandoned, 1u);
  RawClient raw;
  EXPECT_EQ(raw.Count(stage), 0);
  // The publisher's connection was dropped too; it reconnects by itself.
  EXPECT_TRUE(WaitFor([&] { return pub.Publish(ToQueue(stage, "j2")).ok(); }, 10s));
  EXPECT_TRUE(WaitFor([&] { return loop.stats().acked == 2; }, 10s));
}

// Connections dropped under the pool while threads publish: a publish
// either is confirmed or fails with broker_unavailable (never anything else,
// never a hang), every confirmed one is in the queue, and the pool
// recovers by itself.
TEST_F(FaultTest, PoolPublishesFailCleanlyOnConnectionLossAndRecover) {
  AmqpConfig c = TestConfig();
  const std::string q = UniqueName("pooldrop");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisherPool pool(c, {.role = "test-pool"}, 4);
  ASSERT_TRUE(pool.Connect().ok());
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::mutex mu;
  std::string other_text;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        Status s = pool.Publish(ToQueue(q, std::to_string(t) + ":" + std::to_string(i)));
        if (s.ok()) {
          ++ok;
        } else if (s.reason() == "broker_unavailable") {
          ++unavailable;
        } else {
          ++other;
          std::lock_guard<std::mutex> lock(mu);
          other_text = s.ToString();
        }
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return ok.load() >= 200; }, 20s));
  ASSERT_EQ(testing::RabbitmqScript("ctl -q close_all_connections test-drop >/dev/null"), 0);
  const int ok_at_drop = ok.load();
  ASSERT_TRUE(WaitFor([&] { return ok.load() >= ok_at_drop + 200; }, 20s)) << "no recovery";
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(other.load(), 0) << other_text;
  EXPECT_GE(pool.stats().connects, 5u) << "no member reconnected";
  // Failed publishes may or may not have been enqueued; confirmed ones were.
  // (A fresh client: the broker closed `raw` too.)
  RawClient after;
  EXPECT_GE(after.Count(q), ok.load());
  std::printf("[ pool drop ] %d confirmed, %d broker_unavailable\n", ok.load(), unavailable.load());
}

// Restart (graceful, then kill -9): durable confirmed messages survive, and
// the publisher and the consumer loop recover without outside help.
void RestartScenario(const std::string& how) {
  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("restart");
  // Confirmed persistent messages in a durable queue must survive. The
  // queue is declared well before the fault: a classic queue declared
  // ~0.1 s before kill -9 was lost with its messages on 3.10.8 here (Mnesia
  // had not written the declaration yet; see docs/broker.md).
  const std::string durable = UniqueName("durable");
  const auto declared_at = std::chrono::steady_clock::now();
  {
    RawClient raw;
    raw.DeclareQueue(durable);
  }
  std::mutex mu;
  std::vector<std::string> handled;
  ConsumerOptions o;
  o.queue = stage;
  ConsumerLoop loop(c, o, [&](const Delivery& d, std::stop_token) {
    std::lock_guard<std::mutex> lock(mu);
    handled.push_back(d.message_id);
    return Disposition::Ack();
  });
  std::jthread t([&](std::stop_token st) { (void)loop.Run(st); });
  ASSERT_TRUE(WaitFor([&] { return loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "before")).ok());
  ASSERT_TRUE(WaitFor([&] { return loop.stats().acked == 1; }, 5s));

  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pub.Publish(ToQueue(durable, std::to_string(i))).ok());
  std::this_thread::sleep_until(declared_at + 3s);

  if (how == "restart") {
    ASSERT_EQ(testing::RabbitmqScript("restart >/dev/null 2>&1"), 0);
  } else {
    ASSERT_EQ(testing::RabbitmqScript("kill9 >/dev/null 2>&1"), 0);
    // While the broker is down, publishing fails fast with kUnavailable.
    Status down = pub.Publish(ToQueue(stage, "while-down"));
    EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
    ASSERT_EQ(testing::RabbitmqScript("start >/dev/null 2>&1"), 0);
  }
  auto back = std::chrono::steady_clock::now();
  // The publisher recovers lazily on a later publish (back-off capped at 1 s here).
  ASSERT_TRUE(WaitFor([&] { return pub.Publish(ToQueue(stage, "after")).ok(); }, 30s));
  ASSERT_TRUE(WaitFor([&] { return loop.stats().acked == 2; }, 30s));
  auto recovered = std::chrono::steady_clock::now() - back;
  std::printf("[ %s ] consumer recovered %lld ms after the node was back\n", how.c_str(),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(recovered).count()));
  EXPECT_GE(loop.stats().connects, 2u);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(handled.back(), "after");
  }
  RawClient raw;
  EXPECT_EQ(raw.Count(durable), 50);
  auto first = raw.Get(durable);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->message_id, "0");
  // Classic queues flag messages recovered after a crash, not after a clean stop.
  EXPECT_EQ(first->redelivered, how == "kill9");
}

// PHOTO_PIPELINE_AMQP_URL with two nodes (this test's private node and the
// shared one; not a cluster, so each has its own queues, declared on
// connect): kill -9 the node a consumer and a publisher are connected to and
// both carry on on the other node by themselves.
TEST_F(FaultTest, NodeListFailsOverWhenItsNodeDies) {
  AmqpConfig c = TestConfig();
  const std::string shared = PHOTO_TEST_SHARED_AMQP_URL;
  c.url = testing::TestUrl() + "," + shared;
  const std::string doomed = NodeName(*ParseAmqpUrl(testing::TestUrl()));
  const std::string survivor = NodeName(*ParseAmqpUrl(shared));
  const std::string stage = UniqueName("failover");
  c.stages = {stage};  // the publisher declares the stage on whichever node it reaches

  // Connections start at a random node: make the ones under test start on
  // the doomed node (each try is a coin toss).
  std::atomic<int> handled{0};
  std::unique_ptr<ConsumerLoop> loop;
  std::jthread runner;
  for (int i = 0; i < 20 && (!loop || loop->stats().node != doomed); ++i) {
    if (runner.joinable()) {
      runner.request_stop();
      runner.join();
    }
    ConsumerOptions o;
    o.queue = stage;
    loop = std::make_unique<ConsumerLoop>(c, o, [&](const Delivery&, std::stop_token) {
      ++handled;
      return Disposition::Ack();
    });
    runner = std::jthread([l = loop.get()](std::stop_token st) { (void)l->Run(st); });
    ASSERT_TRUE(WaitFor([&] { return loop->consuming(); }, 10s));
  }
  ASSERT_EQ(loop->stats().node, doomed);
  std::unique_ptr<AmqpPublisher> pub;
  for (int i = 0; i < 20 && (!pub || pub->stats().node != doomed); ++i) {
    pub = std::make_unique<AmqpPublisher>(c);
    ASSERT_TRUE(pub->Connect().ok());
  }
  ASSERT_EQ(pub->stats().node, doomed);
  ASSERT_TRUE(pub->Publish(ToQueue(stage, "before")).ok());
  ASSERT_TRUE(WaitFor([&] { return handled.load() == 1; }, 5s));

  ASSERT_EQ(testing::RabbitmqScript("kill9 >/dev/null 2>&1"), 0);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return pub->Publish(ToQueue(stage, "after")).ok(); }, 15s));
  ASSERT_TRUE(WaitFor([&] { return handled.load() == 2; }, 15s));
  std::printf("[ failover ] publisher and consumer on %s %lld ms after the kill\n",
              survivor.c_str(),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - killed)
                                         .count()));
  EXPECT_EQ(pub->stats().node, survivor);
  EXPECT_EQ(loop->stats().node, survivor);
  // The dead node is remembered: new connections go straight to the
  // survivor instead of paying for the dead one first.
  for (int i = 0; i < 5; ++i) {
    auto conn = Connection::Open(c, "test-failover");
    ASSERT_TRUE(conn.ok()) << conn.error().ToString();
    EXPECT_EQ((*conn)->node(), survivor);
  }
  runner.request_stop();
  runner.join();
  pub.reset();
  ASSERT_EQ(testing::RabbitmqScript("start >/dev/null 2>&1"), 0);
}

TEST_F(FaultTest, GracefulBrokerRestart) { RestartScenario("restart"); }
TEST_F(FaultTest, BrokerKill9AndStart) { RestartScenario("kill9"); }

}  // namespace
}  // namespace photo::broker::amqp
