// broker::Publisher over RabbitMQ with publisher confirms.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "photo/broker/amqp/backoff.h"
#include "photo/broker/amqp/config.h"
#include "photo/broker/publisher.h"

namespace photo::broker::amqp {

class Connection;

struct AmqpPublisherOptions {
  // Shown in the broker's connection name ("photo-pipeline <role> pid N").
  std::string role = "publisher";
  // Exchanges where an unroutable message (basic.return: nobody bound) is
  // not an error. processed_images is pub-sub: with no subscriber queue the
  // event is dropped rather than stalling the detect worker forever. Durable
  // subscribers declare their queue up front (AmqpConfig::event_queues).
  std::vector<std::string> drop_unroutable_exchanges{kEventsExchange};
  // Declare the whole topology (DeclareTopology) on every (re)connect.
  bool declare_topology = true;
  // Service heartbeats and notice broker-side closes while idle, from a
  // small background thread (rabbitmq-c only does so inside library calls).
  bool keepalive = true;
};

// One connection, one confirm-mode channel, guarded by a mutex: Publish and
// Ping may be called from any thread; publishes are serialised (one
// outstanding confirm at a time, which keeps basic.return attribution exact).
// Callers that publish from many threads at once (the API) use
// AmqpPublisherPool (publisher_pool.h): N of these side by side.
//
// Publish sends persistently (delivery_mode 2), mandatory, with
// content_type, message_id, timestamp and the headers as long strings, and
// returns OK only after basic.ack without a preceding basic.return for it.
// Errors (all leave the message "not accepted"; it may still have been
// enqueued, so a retry can duplicate it):
//   kUnavailable "unroutable"        basic.return (no queue bound) or no such exchange
//   kUnavailable "broker_nack"       basic.nack (the channel is dropped: the next
//                                    publish opens a fresh one)
//   kUnavailable "broker_blocked"    no confirm within confirm_timeout while the
//                                    broker reports connection.blocked (alarm);
//                                    the connection is kept (reconnecting would not help)
//   kDeadlineExceeded "confirm_timeout"  no confirm within confirm_timeout
//   kUnavailable "broker_unavailable"    cannot connect / connection lost
// The connection is opened lazily and re-opened on the next Publish after a
// failure; while the broker stays unreachable, connect attempts are spaced
// by capped exponential back-off and Publish fails fast in between.
class AmqpPublisher : public Publisher {
 public:
  explicit AmqpPublisher(AmqpConfig config, AmqpPublisherOptions options = {});
  ~AmqpPublisher() override;
  AmqpPublisher(const AmqpPublisher&) = delete;
  AmqpPublisher& operator=(const AmqpPublisher&) = delete;

  Status Publish(const OutgoingMessage& message) override;
  // OK when connected (connecting if needed) and not blocked by an alarm.
  Status Ping() override;
  // Connects now (ignoring the back-off gate) instead of on first use.
  Status Connect();

  struct Stats {
    std::uint64_t confirmed = 0;
    std::uint64_t nacked = 0;
    std::uint64_t returned = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t connects = 0;
    std::string node;  // "host:port" of the latest connection (not summed by the pool)
  };
  Stats stats() const;

 private:
  Status EnsureConnectedLocked(bool ignore_gate);
  Status PublishOnceLocked(const OutgoingMessage& message);
  // Reads frames until `deadline` or until the confirm for seq_ arrives
  // (when waiting). Returns the confirm outcome, or an error status.
  Status PumpLocked(std::chrono::steady_clock::time_point deadline, bool waiting,
                    const std::string& message_id);
  void DropLocked();
  void KeepaliveLoop(std::stop_token stop);

  const AmqpConfig config_;
  const AmqpPublisherOptions options_;

  mutable std::mutex mu_;
  std::unique_ptr<Connection> conn_;
  int confirm_generation_ = -1;
  std::uint64_t seq_ = 0;  // delivery tag of the last publish on this channel
  bool confirmed_ = false;
  bool nacked_ = false;
  bool returned_ = false;
  std::string return_text_;
  bool blocked_ = false;
  Backoff backoff_;
  std::chrono::steady_clock::time_point next_connect_{};
  Stats stats_;

  std::mutex wake_mu_;
  std::condition_variable_any wake_;
  std::jthread keepalive_;  // last: joined before the members above go away
};

}  // namespace photo::broker::amqp
