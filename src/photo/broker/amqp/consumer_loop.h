// A worker's consuming side: one queue, manual acks, prefetch, the handler on
// a job thread while the connection thread keeps heartbeats serviced, and
// retry / park through confirmed publishes before the ack.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "photo/broker/amqp/config.h"
#include "photo/broker/publisher.h"
#include "photo/core/status.h"

namespace photo::broker::amqp {

class Connection;

struct Delivery {
  std::string queue;  // the queue it was consumed from
  std::string body;
  std::string message_id;
  std::string content_type;
  std::string routing_key;
  // Header values as text (integers in decimal); x-death is summarised in
  // `attempt` and not copied.
  std::map<std::string, std::string> headers;
  // Set by the broker when this exact delivery was handed out before
  // (consumer crash, connection loss, broker restart). Not set for messages
  // coming back from a retry queue: see `attempt`.
  bool redelivered = false;
  std::uint64_t delivery_tag = 0;
  // 1 for the first try; 1 + retries so far (x-attempt, else x-death).
  int attempt = 1;
  // AmqpConfig::max_attempts(): Retry on the last attempt parks instead.
  int max_attempts = 1;
  bool last_attempt() const { return attempt >= max_attempts; }
};

// What to do with a delivery once the handler returns. `publish` messages
// are sent (confirmed) BEFORE anything is acked, for every kind: e.g. the
// next stage's job for kAck, the "failed" event for kPark.
struct Disposition {
  enum class Kind { kAck, kRetry, kPark };
  Kind kind = Kind::kAck;
  std::vector<OutgoingMessage> publish;
  Status error;  // kRetry / kPark: why (reason -> x-error-code, message)

  static Disposition Ack(std::vector<OutgoingMessage> publish = {});
  static Disposition Retry(Status error, std::vector<OutgoingMessage> publish = {});
  static Disposition Park(Status error, std::vector<OutgoingMessage> publish = {});
};

// Runs on the job thread, never concurrently with itself. `stop` is the
// loop's stop token: long handlers may give up early (return kRetry) when
// it is requested. An escaping exception is treated as
// Retry(kInternal "handler_exception").
using Handler = std::function<Disposition(const Delivery&, std::stop_token stop)>;

struct ConsumerOptions {
  std::string queue;
  // The stage whose `<stage>.retry.N` / `<stage>.parking` queues kRetry and
  // kPark use; empty = `queue`.
  std::string stage;
  // true: declare `stage`'s queues on every connect and retry/park through
  // them. false (e.g. event subscribers): only `declare` runs, kRetry is a
  // basic.nack(requeue) after a pause and kPark a basic.reject (dead-lettered
  // if the queue has a DLX, else dropped).
  bool stage_queues = true;
  // Extra declarations on every connect (run after the stage's).
  std::function<Status(Connection&)> declare;
  // On stop: how long the in-flight handler may take before the connection
  // is closed anyway (its delivery then goes back to the queue).
  std::chrono::milliseconds stop_grace{30000};
  // Publishes forwards, retries and parks. Default: an AmqpPublisher of its
  // own: a separate connection, so that an alarm blocking publishers does
  // not also stall this connection's acks and heartbeats.
  std::shared_ptr<Publisher> publisher;
  // How long a finished job keeps retrying its publishes before its delivery
  // is handed back (basic.nack, requeue) for another worker, perhaps on a
  // healthier node, to redo; the work is redone, never lost.
  std::chrono::milliseconds publish_give_up{60000};
  std::string role = "consumer";
};

// Usage: ConsumerLoop loop(config, {.queue = "resize"}, handler);
//        std::jthread t([&](std::stop_token st) { loop.Run(st); });
//
// Guarantees: a delivery is acked only after every message it asked for
// (and its retry/park copy) was confirmed by the broker. If publishing keeps
// failing the loop retries with back-off and does not ack; after
// publish_give_up it requeues the delivery; if the consuming connection is
// lost meanwhile the delivery is abandoned (the broker redelivers it, so
// handlers must be idempotent). Broker restarts and
// connection loss are handled inside Run by reconnecting with capped
// exponential back-off + jitter.
class ConsumerLoop {
 public:
  ConsumerLoop(AmqpConfig config, ConsumerOptions options, Handler handler);
  ~ConsumerLoop();
  ConsumerLoop(const ConsumerLoop&) = delete;
  ConsumerLoop& operator=(const ConsumerLoop&) = delete;

  // Blocks until `stop` is requested, then cancels the consumer, lets the
  // in-flight handler finish (bounded by stop_grace, acking its result), and
  // closes. Returns OK after a clean stop; an error only for a bad
  // configuration. Call once.
  Status Run(std::stop_token stop);

  // True while a consumer is registered with the broker.
  bool consuming() const { return consuming_.load(); }

  struct Stats {
    std::uint64_t deliveries = 0;
    std::uint64_t acked = 0;      // acks of kAck dispositions
    std::uint64_t retried = 0;    // sent to a retry queue / requeued
    std::uint64_t parked = 0;     // sent to the parking queue / rejected
    std::uint64_t abandoned = 0;  // not acked: connection lost or stop grace over
    std::uint64_t connects = 0;
    std::string node;  // "host:port" of the latest connection
  };
  Stats stats() const;

 private:
  enum class Action { kAck, kNackRequeue, kReject };
  struct Job {
    std::uint64_t session;
    Delivery delivery;
  };
  struct Completion {
    std::uint64_t session;
    std::uint64_t tag;
    Action action;
    Disposition::Kind kind;
  };

  // One connection's lifetime; returns when it is lost or on stop.
  void RunSession(std::stop_token stop, bool& established);
  void JobThread(std::stop_token stop, std::stop_token loop_stop);
  // Publishes `m`, retrying with back-off while the session is current.
  using Clock = std::chrono::steady_clock;
  enum class PublishOutcome { kConfirmed, kSessionEnded, kGaveUp };
  PublishOutcome PublishUntilConfirmed(const OutgoingMessage& m, std::uint64_t session,
                                       std::stop_token job_stop, Clock::time_point give_up);
  void Wake();

  const AmqpConfig config_;
  ConsumerOptions options_;
  const Handler handler_;
  std::shared_ptr<Publisher> publisher_;
  int wake_fd_ = -1;

  std::atomic<std::uint64_t> session_{0};  // 0 = no live session
  std::atomic<bool> consuming_{false};

  mutable std::mutex mu_;
  std::condition_variable_any jobs_cv_;
  std::deque<Job> jobs_;
  std::deque<Completion> completions_;
  bool in_flight_ = false;
  Stats stats_;
};

}  // namespace photo::broker::amqp
