// Against a real RabbitMQ node (ctest fixture "rabbitmq"); each test uses
// queue names of its own.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "photo/broker/amqp/amqp_operations.h"
#include "photo/broker/amqp/amqp_publisher.h"
#include "photo/broker/amqp/consumer_loop.h"
#include "photo/broker/amqp/dlq.h"
#include "photo/broker/amqp/event_subscriber.h"
#include "photo/broker/amqp/publisher_pool.h"
#include "photo/broker/amqp/testing.h"
#include "photo/broker/amqp/topology.h"
#include "photo/broker/messages.h"

namespace photo::broker::amqp {
namespace {

using namespace std::chrono_literals;
using testing::RawClient;
using testing::TestConfig;
using testing::UniqueName;
using testing::WaitFor;
using Clock = std::chrono::steady_clock;

using AmqpTest = testing::BrokerTest;

OutgoingMessage ToQueue(const std::string& queue, const std::string& body, const std::string& id) {
  OutgoingMessage m;
  m.routing_key = queue;
  m.body = body;
  m.message_id = id;
  return m;
}

// Wraps a real publisher: records calls and the loop's ack count at each
// call, and can fail the first N publishes.
class RecordingPublisher : public Publisher {
 public:
  explicit RecordingPublisher(std::shared_ptr<Publisher> real) : real_(std::move(real)) {}
  Status Publish(const OutgoingMessage& m) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back(m);
    if (probe) acked_at_call.push_back(probe());
    if (fail_first > 0) {
      --fail_first;
      return UnavailableError("broker_unavailable", "injected failure");
    }
    return real_->Publish(m);
  }
  Status Ping() override { return real_->Ping(); }
  std::vector<OutgoingMessage> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls;
  }

  std::mutex mu_;
  std::vector<OutgoingMessage> calls;
  std::vector<std::uint64_t> acked_at_call;
  std::function<std::uint64_t()> probe;
  int fail_first = 0;

 private:
  std::shared_ptr<Publisher> real_;
};

TEST_F(AmqpTest, TopologyDeclarationIsIdempotent) {
  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("stage");
  c.stages = {stage};
  c.event_queues = {EventQueueName(UniqueName("sub"))};
  ASSERT_TRUE(DeclareTopology(c).ok());
  Status again = DeclareTopology(c);
  ASSERT_TRUE(again.ok()) << again.ToString();
  RawClient raw;
  for (const std::string& q : {stage, stage + ".retry.1", stage + ".retry.2", stage + ".retry.3",
                               stage + ".parking", c.event_queues[0]}) {
    EXPECT_EQ(raw.Count(q), 0) << q;
  }
  EXPECT_EQ(raw.Count(stage + ".retry.4"), -1);

  // A work queue that an older deployment declared without our arguments
  // is used as it is instead of failing every connect.
  const std::string legacy = UniqueName("legacy");
  RawClient old;
  old.DeclareQueue(legacy);
  c.stages = {legacy};
  Status s = DeclareTopology(c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(raw.Count(legacy + ".parking"), 0);

  // So are retry queues declared under another retry schedule (their TTL
  // differs): found by the fault test, where workers restarted with new
  // delays never consumed.
  c.stages = {stage};
  c.retry_delays = {500ms, 1000ms, 2000ms};
  s = DeclareTopology(c);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(AmqpTest, PublishIsConfirmedPersistentAndCarriesMetadata) {
  const std::string q = UniqueName("jobs");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisher pub(TestConfig());
  Job job{"0123456789abcdef0123456789abcdef", "cat.jpg", "originals/x.jpg", q};
  OutgoingMessage m = MakeJobMessage(job);
  m.headers["x-trace"] = "abc";
  Status s = pub.Publish(m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(pub.Ping().ok());

  auto got = raw.Get(q);
  ASSERT_TRUE(got.has_value());
  auto parsed = ParseJob(got->body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->filename, "cat.jpg");
  EXPECT_EQ(got->message_id, job.id + ":" + q);
  EXPECT_EQ(got->content_type, "application/json");
  EXPECT_EQ(got->delivery_mode, 2);
  EXPECT_EQ(got->headers.at("x-trace"), "abc");
  EXPECT_EQ(raw.Count(q), 0);
  EXPECT_EQ(pub.stats().confirmed, 1u);
}

TEST_F(AmqpTest, UnroutableIsAnErrorExceptOnTheEventsExchange) {
  AmqpPublisher pub(TestConfig());
  Status s = pub.Publish(ToQueue(UniqueName("nobody"), "{}", "m1"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.reason(), "unroutable") << s.ToString();

  OutgoingMessage missing_exchange = ToQueue("x", "{}", "m2");
  missing_exchange.exchange = UniqueName("no-such-exchange");
  s = pub.Publish(missing_exchange);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();

  // processed_images with no subscriber bound: dropped, not an error.
  AmqpConfig c = TestConfig();
  ASSERT_TRUE(DeclareTopology(c).ok());
  OutgoingMessage event = ToQueue("", "{}", "m3");
  event.exchange = kEventsExchange;
  s = pub.Publish(event);
  EXPECT_TRUE(s.ok()) << s.ToString();

  // The publisher is still usable after the failures.
  const std::string q = UniqueName("after");
  RawClient raw;
  raw.DeclareQueue(q);
  s = pub.Publish(ToQueue(q, "{}", "m4"));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(raw.Count(q), 1);
}

TEST_F(AmqpTest, NackedPublishReportsItAndTheNextPublishUsesAFreshChannel) {
  const std::string q = UniqueName("full");
  RawClient raw;
  raw.DeclareFullAfter(q, 1);
  AmqpPublisher pub(TestConfig());
  ASSERT_TRUE(pub.Publish(ToQueue(q, "{}", "first")).ok());
  const auto connects = pub.stats().connects;

  Status s = pub.Publish(ToQueue(q, "{}", "second"));
  EXPECT_EQ(s.reason(), "broker_nack") << s.ToString();
  EXPECT_EQ(pub.stats().nacked, 1u);

  // Room again: the retry goes out at once on a new channel (a channel that
  // nacked may keep nacking: see AmqpPublisher::Publish).
  ASSERT_TRUE(raw.Get(q).has_value());
  s = pub.Publish(ToQueue(q, "{}", "second"));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pub.stats().connects, connects + 1);
  EXPECT_EQ(raw.Count(q), 1);
  raw.DeleteQueue(q);
}

TEST_F(AmqpTest, PublisherIsThreadSafe) {
  const std::string q = UniqueName("mt");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisher pub(TestConfig());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (pub.Publish(ToQueue(q, "{}", std::to_string(t) + ":" + std::to_string(i))).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(raw.Count(q), 100);
}

// The API's pool: many threads publish at once, every publish is confirmed,
// every message arrives exactly once, and the members really run side by
// side (more than one connection was used).
TEST_F(AmqpTest, PoolConfirmsConcurrentPublishesOnSeveralConnections) {
  const std::string q = UniqueName("pool");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisherPool pool(TestConfig(), {.role = "test-pool"}, 4);
  ASSERT_EQ(pool.size(), 4);
  constexpr int kThreads = 16, kEach = 50;
  std::atomic<int> ok{0};
  std::vector<std::string> errors;
  std::mutex mu;
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status s = pool.Publish(ToQueue(q, "{}", std::to_string(t) + ":" + std::to_string(i)));
        if (s.ok()) {
          ++ok;
        } else {
          std::lock_guard<std::mutex> lock(mu);
          errors.push_back(s.ToString());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("[ pool ] %d confirmed publishes in %.2f s (%.0f/s)\n", ok.load(), secs,
              ok.load() / secs);
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(pool.stats().confirmed, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_GE(pool.stats().connects, 2u) << "the pool never had two publishes in flight";
  EXPECT_LE(pool.stats().connects, 4u);
  EXPECT_EQ(raw.Count(q), kThreads * kEach);
  std::set<std::string> ids;
  while (auto got = raw.Get(q)) ids.insert(got->message_id);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_TRUE(pool.Ping().ok());
}

// basic.return is attributed to the message it belongs to even while other
// threads publish routable messages on the pool at the same time.
TEST_F(AmqpTest, PoolAttributesEachReturnToItsOwnMessage) {
  const std::string q = UniqueName("routable");
  const std::string nowhere = UniqueName("nobody");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisherPool pool(TestConfig(), {.role = "test-pool"}, 3);
  std::atomic<int> wrong{0}, routed{0}, returned{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        const bool lost = (i + t) % 3 == 0;
        const std::string id = std::to_string(t) + ":" + std::to_string(i);
        Status s = pool.Publish(ToQueue(lost ? nowhere : q, "{}", id));
        if (lost) {
          if (s.reason() == "unroutable" && s.message().find(id) != std::string::npos) {
            ++returned;
          } else {
            ++wrong;
          }
        } else if (s.ok()) {
          ++routed;
        } else {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(routed.load() + returned.load(), 240);
  EXPECT_EQ(returned.load(), 80);
  EXPECT_EQ(raw.Count(q), routed.load());
  EXPECT_EQ(pool.stats().returned, 80u);
}

TEST_F(AmqpTest, CrashedConsumerLeavesTheMessageForRedelivery) {
  const std::string q = UniqueName("crash");
  RawClient raw;
  raw.DeclareQueue(q);
  AmqpPublisher pub(TestConfig());
  ASSERT_TRUE(pub.Publish(ToQueue(q, "{\"n\":1}", "c1")).ok());
  {
    RawClient worker;
    auto first = worker.Get(q, /*ack=*/false);
    ASSERT_TRUE(first.has_value());
    EXPECT_FALSE(first->redelivered);
    worker.Crash();
  }
  auto again = raw.WaitGet(q, 5s);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->redelivered);
  EXPECT_EQ(again->message_id, "c1");
}

struct LoopRunner {
  LoopRunner(AmqpConfig c, ConsumerOptions o, Handler h)
      : loop(std::move(c), std::move(o), std::move(h)),
        thread([this](std::stop_token st) { status = loop.Run(st); }) {}
  ~LoopRunner() {
    if (thread.joinable()) {
      thread.request_stop();
      thread.join();
    }
  }
  ConsumerLoop loop;
  Status status;
  std::jthread thread;
};

// A stage queue whose handler forwards each job to the next stage's queue
// through a RecordingPublisher that fails its first `fail_first` publishes.
struct ForwardingStage {
  explicit ForwardingStage(int fail_first)
      : rec(std::make_shared<RecordingPublisher>(std::make_shared<AmqpPublisher>(c))) {
    raw.DeclareQueue(next);
    rec->fail_first = fail_first;
    options.queue = stage;
    options.publisher = rec;
  }
  Disposition Forward(const Delivery& d) const {
    return Disposition::Ack({ToQueue(next, d.body, d.message_id + ">next")});
  }
  void Send(const std::string& id) {
    AmqpPublisher pub(c);
    ASSERT_TRUE(pub.Publish(ToQueue(stage, "{\"id\":\"" + id + "\"}", id)).ok());
  }

  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("resize");
  const std::string next = UniqueName("watermark");
  RawClient raw;
  std::shared_ptr<RecordingPublisher> rec;
  ConsumerOptions options;
};

TEST_F(AmqpTest, AckPathPublishesTheNextJobBeforeAcking) {
  ForwardingStage f(/*fail_first=*/2);  // the loop must keep trying, without acking
  std::atomic<int> calls{0};
  LoopRunner run(f.c, f.options, [&](const Delivery& d, std::stop_token) {
    ++calls;
    EXPECT_EQ(d.attempt, 1);
    EXPECT_FALSE(d.redelivered);
    return f.Forward(d);
  });
  f.rec->probe = [&] { return run.loop.stats().acked; };
  ASSERT_TRUE(WaitFor([&] { return run.loop.consuming(); }, 10s));

  f.Send("a");
  auto forwarded = f.raw.WaitGet(f.next, 10s);
  ASSERT_TRUE(forwarded.has_value());
  EXPECT_EQ(forwarded->message_id, "a>next");
  EXPECT_EQ(forwarded->body, "{\"id\":\"a\"}");
  ASSERT_TRUE(WaitFor([&] { return run.loop.stats().acked == 1; }, 5s));
  {
    std::lock_guard<std::mutex> lock(f.rec->mu_);
    ASSERT_EQ(f.rec->acked_at_call.size(), 3u);  // 2 injected failures + success
    for (auto acked : f.rec->acked_at_call) EXPECT_EQ(acked, 0u);
  }
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(f.raw.Count(f.stage), 0);
  EXPECT_EQ(f.raw.Count(f.next), 0);
}

TEST_F(AmqpTest, AJobWhosePublishKeepsFailingIsHandedBackAndRedone) {
  ForwardingStage f(/*fail_first=*/4);  // 100 + 200 + 400 ms of back-off outlast the give-up
  f.options.publish_give_up = 300ms;
  std::atomic<int> calls{0};
  std::atomic<bool> saw_redelivery{false};
  LoopRunner run(f.c, f.options, [&](const Delivery& d, std::stop_token) {
    if (++calls > 1 && d.redelivered) saw_redelivery = true;
    return f.Forward(d);
  });
  ASSERT_TRUE(WaitFor([&] { return run.loop.consuming(); }, 10s));

  f.Send("b");
  auto forwarded = f.raw.WaitGet(f.next, 15s);
  ASSERT_TRUE(forwarded.has_value());
  EXPECT_EQ(forwarded->message_id, "b>next");
  ASSERT_TRUE(WaitFor([&] { return run.loop.stats().acked == 1; }, 5s));
  EXPECT_EQ(calls.load(), 2);  // done, handed back, done again
  EXPECT_TRUE(saw_redelivery.load());
  EXPECT_EQ(run.loop.stats().retried, 1u);
  EXPECT_EQ(f.raw.Count(f.stage), 0);
}

TEST_F(AmqpTest, RetryGoesThroughRetryQueuesWithGrowingDelay) {
  AmqpConfig c = TestConfig();
  c.retry_delays = {300ms, 900ms};
  const std::string stage = UniqueName("retry");
  std::mutex mu;
  std::vector<std::pair<int, Clock::time_point>> seen;
  std::vector<std::map<std::string, std::string>> headers;
  ConsumerOptions o;
  o.queue = stage;
  LoopRunner run(c, o, [&](const Delivery& d, std::stop_token) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(d.attempt, Clock::now());
    headers.push_back(d.headers);
    EXPECT_EQ(d.max_attempts, 3);
    EXPECT_EQ(d.message_id, "r1");
    if (d.attempt < 3) return Disposition::Retry(UnavailableError("store_down", "db away"));
    return Disposition::Ack();
  });
  ASSERT_TRUE(WaitFor([&] { return run.loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{\"x\":1}", "r1")).ok());
  ASSERT_TRUE(WaitFor([&] { return run.loop.stats().acked == 1; }, 10s));

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, 1);
  EXPECT_EQ(seen[1].first, 2);
  EXPECT_EQ(seen[2].first, 3);
  auto gap1 = seen[1].second - seen[0].second;
  auto gap2 = seen[2].second - seen[1].second;
  EXPECT_GE(gap1, 300ms);
  EXPECT_GE(gap2, 900ms);
  EXPECT_LT(gap1, 900ms);
  EXPECT_EQ(headers[1].at("x-last-error-code"), "store_down");
  EXPECT_EQ(headers[1].at("x-stage"), stage);
  EXPECT_EQ(run.loop.stats().retried, 2u);
  RawClient raw;
  EXPECT_EQ(raw.Count(stage + ".parking"), 0);
  EXPECT_EQ(raw.Count(stage + ".retry.1"), 0);
}

TEST_F(AmqpTest, ParkAfterTheLastAttemptAndAtOnceForPermanentErrors) {
  AmqpConfig c = TestConfig();
  c.retry_delays = {200ms};
  const std::string stage = UniqueName("park");
  std::atomic<int> calls{0};
  ConsumerOptions o;
  o.queue = stage;
  LoopRunner run(c, o, [&](const Delivery& d, std::stop_token) {
    ++calls;
    if (d.message_id == "corrupt") {
      return Disposition::Park(InvalidArgumentError("corrupt_image", "truncated JPEG"));
    }
    return Disposition::Retry(UnavailableError("store_down", "db away"));
  });
  ASSERT_TRUE(WaitFor([&] { return run.loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{\"t\":1}", "transient")).ok());
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{\"c\":1}", "corrupt")).ok());
  ASSERT_TRUE(WaitFor([&] { return run.loop.stats().parked == 2; }, 10s));
  EXPECT_EQ(calls.load(), 3);  // transient twice, corrupt once

  RawClient raw;
  std::map<std::string, testing::Got> parked;
  for (int i = 0; i < 2; ++i) {
    auto g = raw.Get(stage + ".parking");
    ASSERT_TRUE(g.has_value());
    parked[g->message_id] = *g;
  }
  ASSERT_EQ(parked.size(), 2u);
  const auto& t = parked.at("transient");
  EXPECT_EQ(t.body, "{\"t\":1}");
  EXPECT_EQ(t.headers.at("x-error-code"), "store_down");
  EXPECT_EQ(t.headers.at("x-error-message"), "db away");
  EXPECT_EQ(t.headers.at("x-attempts"), "2");
  EXPECT_EQ(t.headers.at("x-stage"), stage);
  EXPECT_FALSE(t.headers.at("x-parked-at").empty());
  EXPECT_EQ(t.delivery_mode, 2);
  const auto& k = parked.at("corrupt");
  EXPECT_EQ(k.headers.at("x-error-code"), "corrupt_image");
  EXPECT_EQ(k.headers.at("x-attempts"), "1");
  EXPECT_EQ(raw.Count(stage), 0);
}

TEST_F(AmqpTest, HeartbeatsAreServicedDuringALongHandler) {
  AmqpConfig c = TestConfig();
  c.heartbeat_s = 2;
  const std::string stage = UniqueName("long");
  std::atomic<int> calls{0};
  std::atomic<bool> redelivered{false};
  ConsumerOptions o;
  o.queue = stage;
  LoopRunner run(c, o, [&](const Delivery& d, std::stop_token) {
    ++calls;
    if (d.redelivered) redelivered = true;
    std::this_thread::sleep_for(6s);  // 3x the heartbeat, no library calls here
    return Disposition::Ack();
  });
  ASSERT_TRUE(WaitFor([&] { return run.loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{}", "slow")).ok());
  ASSERT_TRUE(WaitFor([&] { return run.loop.stats().acked == 1; }, 15s));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(redelivered.load());
  EXPECT_EQ(run.loop.stats().connects, 1u);
  EXPECT_EQ(run.loop.stats().abandoned, 0u);
}

TEST_F(AmqpTest, StopFinishesTheInFlightJobAndAcksIt) {
  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("stop");
  std::atomic<bool> started{false};
  ConsumerOptions o;
  o.queue = stage;
  auto loop = std::make_unique<LoopRunner>(c, o, [&](const Delivery&, std::stop_token) {
    started = true;
    std::this_thread::sleep_for(1s);
    return Disposition::Ack();
  });
  ASSERT_TRUE(WaitFor([&] { return loop->loop.consuming(); }, 10s));
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{}", "s1")).ok());
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{}", "s2")).ok());
  ASSERT_TRUE(WaitFor([&] { return started.load(); }, 5s));
  loop->thread.request_stop();
  loop->thread.join();
  EXPECT_TRUE(loop->status.ok());
  EXPECT_EQ(loop->loop.stats().acked, 1u);
  RawClient raw;
  EXPECT_EQ(raw.Count(stage), 1);  // s2 was never started and is back in the queue
}

TEST_F(AmqpTest, ParkedMessagesCanBeListedReplayedAndPurged) {
  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("dlq");
  c.stages = {stage};
  ASSERT_TRUE(DeclareTopology(c).ok());
  AmqpPublisher pub(c);
  for (int i = 0; i < 3; ++i) {
    OutgoingMessage m =
        ToQueue(stage + ".parking", "{\"i\":" + std::to_string(i) + "}", "p" + std::to_string(i));
    m.headers = {{"x-error-code", "corrupt_image"}, {"x-attempts", "4"}, {"x-stage", stage}};
    ASSERT_TRUE(pub.Publish(m).ok());
  }
  auto listed = ListParked(c, stage, 2);
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].message_id, "p0");
  EXPECT_EQ((*listed)[0].headers.at("x-error-code"), "corrupt_image");
  auto count = ParkedCount(c, stage);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 3u);  // listing left them parked

  auto moved = ReplayParked(c, stage);
  ASSERT_TRUE(moved.ok()) << moved.error().ToString();
  EXPECT_EQ(*moved, 3u);
  RawClient raw;
  EXPECT_EQ(raw.Count(stage + ".parking"), 0);
  for (int i = 0; i < 3; ++i) {
    auto g = raw.Get(stage);
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->message_id, "p" + std::to_string(i));
    EXPECT_EQ(g->headers.at("x-attempt"), "1");
    EXPECT_EQ(g->headers.at("x-replays"), "1");
    EXPECT_EQ(g->headers.count("x-error-code"), 0u);
  }

  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(pub.Publish(ToQueue(stage + ".parking", "{}", "q" + std::to_string(i))).ok());
  }
  auto purged = PurgeParked(c, stage);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 2u);
  EXPECT_EQ(raw.Count(stage + ".parking"), 0);
}

TEST_F(AmqpTest, OperationsShowDepthConsumersParkedJobsAndReplayOne) {
  AmqpConfig c = TestConfig();
  const std::string stage = UniqueName("ops");
  c.stages = {stage};
  c.retry_delays = {std::chrono::milliseconds(60'000)};
  AmqpOperations ops(c);
  // Nothing declared yet: reported as absent, not an error.
  auto before = ops.Stats();
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  ASSERT_EQ(before->size(), 1u);
  EXPECT_FALSE((*before)[0].work.exists);

  ASSERT_TRUE(DeclareTopology(c).ok());
  AmqpPublisher pub(c);
  ASSERT_TRUE(pub.Publish(ToQueue(stage, "{}", "w1")).ok());
  for (int i = 0; i < 3; ++i) {
    std::string id = std::string(31, '0') + std::to_string(i);
    OutgoingMessage m = MakeJobMessage({id, "p" + std::to_string(i) + ".jpg", "x", stage});
    m.routing_key = stage + ".parking";
    m.headers = {{"x-error-code", "corrupt_image"}, {"x-error-message", "bad <b>huffman</b>"},
                 {"x-attempts", "1"}, {"x-parked-at", "2026-12-05T20:00:00Z"}};
    ASSERT_TRUE(pub.Publish(m).ok());
  }
  RawClient consumer;  // one consumer on the work queue
  amqp_basic_consume(consumer.conn().get(), Connection::kChannel,
                     amqp_cstring_bytes(stage.c_str()), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  ASSERT_TRUE(consumer.conn().RpcStatus("basic.consume").ok());

  auto stats = ops.Stats();
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  const StageStats& st = (*stats)[0];
  EXPECT_TRUE(st.work.exists);
  EXPECT_EQ(st.work.consumers, 1);
  ASSERT_EQ(st.retry.size(), 1u);
  EXPECT_EQ(st.retry[0].name, stage + ".retry.1");
  EXPECT_EQ(st.parking.messages, 3);

  auto parked = ops.Parked(stage, 10);
  ASSERT_TRUE(parked.ok()) << parked.error().ToString();
  ASSERT_EQ(parked->size(), 3u);
  EXPECT_EQ((*parked)[1].image_id, std::string(31, '0') + "1");
  EXPECT_EQ((*parked)[1].filename, "p1.jpg");
  EXPECT_EQ((*parked)[1].error_code, "corrupt_image");
  EXPECT_EQ((*parked)[1].error_message, "bad <b>huffman</b>");
  EXPECT_EQ((*parked)[1].attempts, 1);

  auto moved = ops.Replay(stage, (*parked)[1].message_id);
  ASSERT_TRUE(moved.ok()) << moved.error().ToString();
  EXPECT_EQ(*moved, 1u);
  auto left = ops.Parked(stage, 10);
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].message_id, (*parked)[0].message_id) << "the others keep their order";
  EXPECT_EQ((*left)[1].message_id, (*parked)[2].message_id);
  EXPECT_EQ(*ops.Replay(stage, (*parked)[1].message_id), 0u) << "already replayed";
  EXPECT_EQ(ops.Replay("no-such-stage", "").error().code(), StatusCode::kNotFound);
}

TEST_F(AmqpTest, EventSubscriberGetsEventsPublishedWhileItWasAway) {
  AmqpConfig c = TestConfig();
  const std::string queue = EventQueueName(UniqueName("sub"));
  c.event_queues = {queue};
  ASSERT_TRUE(DeclareTopology(c).ok());  // bound at deploy time
  AmqpPublisher pub(c);
  OutgoingMessage e1 = ToQueue("", "{\"id\":\"a\",\"status\":\"completed\"}", "a:completed");
  e1.exchange = kEventsExchange;
  ASSERT_TRUE(pub.Publish(e1).ok());

  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> failures{1};
  EventSubscriber sub(c, queue, [&](const Delivery& d) {
    if (failures-- > 0) return UnavailableError("db_down", "first call fails");
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(d.message_id);
    return Status::Ok();
  });
  std::jthread t([&](std::stop_token st) { (void)sub.Run(st); });
  ASSERT_TRUE(WaitFor([&] { return sub.consuming(); }, 10s));
  OutgoingMessage e2 = e1;
  e2.message_id = "b:completed";
  ASSERT_TRUE(pub.Publish(e2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return got.size() == 2;
      },
      10s));
  t.request_stop();
  t.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(got[0], "a:completed");  // requeued after the failure, then acked
  EXPECT_EQ(got[1], "b:completed");
  RawClient raw;
  EXPECT_EQ(raw.Count(queue), 0);
}

}  // namespace
}  // namespace photo::broker::amqp
