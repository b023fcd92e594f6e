// broker::Publisher over several AmqpPublishers: concurrent confirmed
// publishes for a multi-threaded caller (the API).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "photo/broker/amqp/amqp_publisher.h"

namespace photo::broker::amqp {

// N independent AmqpPublishers (N connections, one confirm channel each).
// One AmqpPublisher allows one outstanding confirm, and RabbitMQ confirms a
// persistent message only after its own fsync, so on one channel concurrent
// callers queue behind each other (~1,000 confirms/s at best on the
// reference VM). Here each Publish borrows an idle member for its whole
// publish-and-confirm and gives it back; up to N confirms are outstanding at
// once and the broker folds their fsyncs together. A caller waits only when
// all N members are busy.
//
// Every member is an unmodified AmqpPublisher, so the contract is exactly
// its contract (amqp_publisher.h): the same error reasons (unroutable,
// broker_nack, broker_blocked, confirm_timeout, broker_unavailable), exact
// basic.return attribution (one outstanding publish per channel), lazy
// (re)connect with back-off per member, keepalive per member. A connection
// loss fails the publishes in flight on the lost connection(s) with
// broker_unavailable; each member reconnects on its next use.
//
// Members are handed out last-in-first-out, so a lightly loaded caller keeps
// using the same few warm connections.
class AmqpPublisherPool : public Publisher {
 public:
  // `size` >= 1 members, each built with `config` and `options`.
  AmqpPublisherPool(const AmqpConfig& config, const AmqpPublisherOptions& options, int size);
  ~AmqpPublisherPool() override;
  AmqpPublisherPool(const AmqpPublisherPool&) = delete;
  AmqpPublisherPool& operator=(const AmqpPublisherPool&) = delete;

  Status Publish(const OutgoingMessage& message) override;
  // Ping of one idle member (waits for one if all are busy).
  Status Ping() override;
  // Connects every member now; the first error, if any (the others are
  // still tried, and a failed member reconnects lazily later).
  Status Connect();

  int size() const { return static_cast<int>(members_.size()); }
  // Sum over the members.
  AmqpPublisher::Stats stats() const;

 private:
  AmqpPublisher* Borrow();
  void GiveBack(AmqpPublisher* p);

  std::vector<std::unique_ptr<AmqpPublisher>> members_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AmqpPublisher*> idle_;  // LIFO
};

}  // namespace photo::broker::amqp
