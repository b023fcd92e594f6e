// Helpers for the broker integration tests (real RabbitMQ, no mocks).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/connection.h"

namespace photo::broker::amqp::testing {

// PHOTO_TEST_AMQP_URL (set by ctest); empty when not run under ctest.
std::string TestUrl();

// Base of the broker tests: skipped when not run through ctest, which starts
// the node and compiles its URL in.
class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (TestUrl().empty()) GTEST_SKIP() << "PHOTO_TEST_AMQP_URL not set (run via ctest)";
  }
};
// A config for tests: the test URL, short timeouts, no stages declared.
AmqpConfig TestConfig();
// prefix + "-" + 8 random hex chars: queue names no other test uses.
std::string UniqueName(const std::string& prefix);

// Polls `pred` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// Runs scripts/rabbitmq.sh with the test's environment; returns its exit code.
int RabbitmqScript(const std::string& args);

struct Got {
  std::string body;
  std::string message_id;
  std::string content_type;
  int delivery_mode = 0;
  bool redelivered = false;
  std::map<std::string, std::string> headers;
  std::uint64_t tag = 0;
};

// A plain synchronous client for checking what is in the queues.
class RawClient {
 public:
  RawClient();
  Connection& conn() { return *conn_; }
  void DeclareQueue(const std::string& name);
  // A classic queue holding at most `max_length` messages that nacks
  // publishes beyond it (x-overflow=reject-publish): a real basic.nack.
  void DeclareFullAfter(const std::string& name, std::int64_t max_length);
  void DeleteQueue(const std::string& name);
  // Ready messages (excludes unacked ones); -1 if the queue does not exist.
  long Count(const std::string& queue);
  // basic.get; acks it when `ack`, else leaves it unacked on this channel.
  std::optional<Got> Get(const std::string& queue, bool ack = true);
  // Waits up to `timeout` for a message.
  std::optional<Got> WaitGet(const std::string& queue, std::chrono::milliseconds timeout,
                             bool ack = true);
  // Drops the TCP connection without closing the channel (a crash).
  void Crash();

 private:
  std::unique_ptr<Connection> conn_;
};

}  // namespace photo::broker::amqp::testing
