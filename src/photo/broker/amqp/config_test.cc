#include "photo/broker/amqp/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

#include "photo/broker/amqp/backoff.h"

namespace photo::broker::amqp {
namespace {

TEST(ParseAmqpUrl, ContractDefaultMeansDefaultVhost) {
  auto u = ParseAmqpUrl(kDefaultAmqpUrl);
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 5672);
  EXPECT_EQ(u->user, "guest");
  EXPECT_EQ(u->password, "guest");
  EXPECT_EQ(u->vhost, "/");
  EXPECT_FALSE(u->tls);
}

TEST(ParseAmqpUrl, NamedAndEncodedVhostsPortAndCredentials) {
  auto u = ParseAmqpUrl("amqp://photo:s%40cret@rabbit.internal:5700/prod");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "rabbit.internal");
  EXPECT_EQ(u->port, 5700);
  EXPECT_EQ(u->user, "photo");
  EXPECT_EQ(u->password, "s@cret");
  EXPECT_EQ(u->vhost, "prod");
  auto slash = ParseAmqpUrl("amqp://h/%2f");
  ASSERT_TRUE(slash.ok());
  EXPECT_EQ(slash->vhost, "/");
  EXPECT_EQ(slash->port, 5672);
  auto bare = ParseAmqpUrl("amqp://h");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->vhost, "/");
}

TEST(ParseAmqpUrl, AmqpsSelectsTlsAndItsPort) {
  auto u = ParseAmqpUrl("amqps://u:p@broker.example");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 5671);
}

TEST(ParseAmqpUrl, RejectsGarbageWithoutLeakingThePassword) {
  for (const char* bad : {"", "http://u:p@h/", "amqp://u:topsecret@h:notaport/", "rabbit"}) {
    auto u = ParseAmqpUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().reason(), "bad_amqp_url");
    EXPECT_EQ(u.error().message().find("topsecret"), std::string::npos);
  }
}

TEST(RedactUrl, HidesOnlyThePassword) {
  EXPECT_EQ(RedactUrl("amqp://guest:guest@127.0.0.1:5672/"), "amqp://guest:***@127.0.0.1:5672/");
  EXPECT_EQ(RedactUrl("amqp://127.0.0.1/"), "amqp://127.0.0.1/");
  EXPECT_EQ(RedactUrl("amqp://user@h/"), "amqp://user@h/");
}

TEST(ParseAmqpUrls, OneNodeIsAListOfOne) {
  auto u = ParseAmqpUrls(kDefaultAmqpUrl);
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  ASSERT_EQ(u->size(), 1u);
  EXPECT_EQ(NodeName((*u)[0]), "127.0.0.1:5672");
}

TEST(ParseAmqpUrls, CommaListOfFullUrlsWithBlanks) {
  auto u = ParseAmqpUrls(
      "amqp://a:b@198.18.0.1:5672/v, amqp://a:b@198.18.0.2:5673/v ,amqps://c:d@rabbit3/%2f");
  ASSERT_TRUE(u.ok()) << u.error().ToString();
  ASSERT_EQ(u->size(), 3u);
  EXPECT_EQ(NodeName((*u)[0]), "198.18.0.1:5672");
  EXPECT_EQ((*u)[0].vhost, "v");
  EXPECT_EQ(NodeName((*u)[1]), "198.18.0.2:5673");
  EXPECT_EQ((*u)[2].host, "rabbit3");
  EXPECT_TRUE((*u)[2].tls);
  EXPECT_EQ((*u)[2].port, 5671);
  EXPECT_EQ((*u)[2].user, "c");
  EXPECT_EQ((*u)[2].vhost, "/");
}

TEST(ParseAmqpUrls, AnyBadOrEmptyEntryFailsWithoutLeakingPasswords) {
  for (const char* bad : {"amqp://u:topsecret@h1/,", ",amqp://u:topsecret@h1/",
                          "amqp://u:topsecret@h1/,,amqp://u:topsecret@h2/",
                          "amqp://u:topsecret@h1/,http://u:topsecret@h2/", "", " , "}) {
    auto u = ParseAmqpUrls(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().reason(), "bad_amqp_url") << bad;
    EXPECT_EQ(u.error().message().find("topsecret"), std::string::npos) << u.error().message();
  }
  AmqpConfig c;
  c.url = "amqp://h1/,amqp://h2:notaport/";
  EXPECT_EQ(c.Validate().reason(), "bad_amqp_url");
  c.url = "amqp://h1/,amqp://h2:5673/";
  EXPECT_TRUE(c.Validate().ok());
}

TEST(RedactUrl, HidesEveryPasswordOfAList) {
  EXPECT_EQ(RedactUrl("amqp://u:p1@h1/,amqp://u:p2@h2/,amqp://h3/"),
            "amqp://u:***@h1/,amqp://u:***@h2/,amqp://h3/");
}

TEST(ConnectOrder, RotatesFromTheStartAndPutsRecentFailuresLast) {
  using V = std::vector<std::size_t>;
  EXPECT_EQ(ConnectOrder(1, 0, {}), V({0}));
  EXPECT_EQ(ConnectOrder(3, 0, {}), V({0, 1, 2}));
  EXPECT_EQ(ConnectOrder(3, 2, {}), V({2, 0, 1}));
  EXPECT_EQ(ConnectOrder(3, 1, {false, true, false}), V({2, 0, 1}));
  EXPECT_EQ(ConnectOrder(3, 0, {true, false, true}), V({1, 0, 2}));
  EXPECT_EQ(ConnectOrder(3, 2, {true, true, true}), V({2, 0, 1}));
  // Every start covers every node exactly once.
  for (std::size_t start = 0; start < 5; ++start) {
    V order = ConnectOrder(5, start, {false, true, false, false, true});
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, V({0, 1, 2, 3, 4}));
  }
}

TEST(ParseQueueType, ClassicQuorumOrError) {
  EXPECT_EQ(*ParseQueueType("classic"), QueueType::kClassic);
  EXPECT_EQ(*ParseQueueType(" quorum"), QueueType::kQuorum);
  for (const char* bad : {"", "Quorum", "stream", "mirrored"}) {
    auto t = ParseQueueType(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().reason(), "bad_setting");
    EXPECT_NE(t.error().message().find("PHOTO_PIPELINE_QUEUE_TYPE"), std::string::npos);
  }
  EXPECT_STREQ(QueueTypeName(QueueType::kQuorum), "quorum");
}

TEST(ParseRetryDelays, ListsEmptyAndErrors) {
  auto d = ParseRetryDelays("1000, 5000,30000");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[0].count(), 1000);
  EXPECT_EQ((*d)[2].count(), 30000);
  auto none = ParseRetryDelays(" ");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  for (const char* bad : {"1000,", "abc", "0", "-5", "1000;2000", "99999999999"}) {
    EXPECT_FALSE(ParseRetryDelays(bad).ok()) << bad;
  }
}

TEST(AmqpConfig, FromEnvOverlaysAndValidates) {
  setenv("PHOTO_PIPELINE_AMQP_URL", "amqp://a:b@10.0.0.1:5999/v", 1);
  setenv("PHOTO_PIPELINE_PREFETCH", "4", 1);
  setenv("PHOTO_PIPELINE_RETRY_DELAYS_MS", "10,20", 1);
  setenv("PHOTO_PIPELINE_EVENT_QUEUES", "events.audit, events.search", 1);
  auto c = AmqpConfig::FromEnv();
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->url, "amqp://a:b@10.0.0.1:5999/v");
  EXPECT_EQ(c->prefetch, 4);
  EXPECT_EQ(c->max_attempts(), 3);
  EXPECT_EQ(c->event_queues, (std::vector<std::string>{"events.audit", "events.search"}));
  EXPECT_EQ(c->heartbeat_s, 30);
  EXPECT_EQ(c->publish_connections, 8);

  setenv("PHOTO_PIPELINE_AMQP_PUBLISH_CONNECTIONS", "3", 1);
  c = AmqpConfig::FromEnv();
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->publish_connections, 3);
  setenv("PHOTO_PIPELINE_AMQP_PUBLISH_CONNECTIONS", "0", 1);
  EXPECT_EQ(AmqpConfig::FromEnv().error().reason(), "bad_setting");
  unsetenv("PHOTO_PIPELINE_AMQP_PUBLISH_CONNECTIONS");

  setenv("PHOTO_PIPELINE_PREFETCH", "0", 1);
  auto bad = AmqpConfig::FromEnv();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason(), "bad_setting");
  for (const char* v : {"PHOTO_PIPELINE_AMQP_URL", "PHOTO_PIPELINE_PREFETCH",
                        "PHOTO_PIPELINE_RETRY_DELAYS_MS", "PHOTO_PIPELINE_EVENT_QUEUES"}) {
    unsetenv(v);
  }
  AmqpConfig defaults;
  EXPECT_TRUE(defaults.Validate().ok());
  EXPECT_EQ(defaults.max_attempts(), 4);
  EXPECT_EQ(defaults.queue_type, QueueType::kClassic);
}

TEST(AmqpConfig, FromEnvQueueTypeAndDeliveryLimit) {
  setenv("PHOTO_PIPELINE_AMQP_URL", "amqp://198.18.0.1/,amqp://198.18.0.2/", 1);
  setenv("PHOTO_PIPELINE_QUEUE_TYPE", "quorum", 1);
  setenv("PHOTO_PIPELINE_AMQP_DELIVERY_LIMIT", "5", 1);
  auto c = AmqpConfig::FromEnv();
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->queue_type, QueueType::kQuorum);
  EXPECT_EQ(c->delivery_limit, 5);
  setenv("PHOTO_PIPELINE_QUEUE_TYPE", "stream", 1);
  EXPECT_EQ(AmqpConfig::FromEnv().error().reason(), "bad_setting");
  setenv("PHOTO_PIPELINE_QUEUE_TYPE", "classic", 1);
  setenv("PHOTO_PIPELINE_AMQP_DELIVERY_LIMIT", "0", 1);
  EXPECT_EQ(AmqpConfig::FromEnv().error().reason(), "bad_setting");
  setenv("PHOTO_PIPELINE_AMQP_DELIVERY_LIMIT", "5", 1);
  setenv("PHOTO_PIPELINE_AMQP_URL", "amqp://198.18.0.1/,", 1);
  EXPECT_EQ(AmqpConfig::FromEnv().error().reason(), "bad_amqp_url");
  for (const char* v : {"PHOTO_PIPELINE_AMQP_URL", "PHOTO_PIPELINE_QUEUE_TYPE",
                        "PHOTO_PIPELINE_AMQP_DELIVERY_LIMIT"}) {
    unsetenv(v);
  }
}

TEST(Backoff, GrowsExponentiallyWithinJitterAndCaps) {
  Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 0.25, 42);
  const int expected[] = {100, 200, 400, 800, 1000, 1000};
  for (int base : expected) {
    auto d = b.Next().count();
    EXPECT_GE(d, base * 0.75 - 1);
    EXPECT_LE(d, base * 1.25 + 1);
  }
  b.Reset();
  EXPECT_LE(b.Next().count(), 126);
}

}  // namespace
}  // namespace photo::broker::amqp
