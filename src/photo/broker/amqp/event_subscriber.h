// Subscribing to processed_images (the `photo-pipeline events` command and
// tests): a durable queue bound to the fanout exchange, consumed with
// manual acks.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/consumer_loop.h"
#include "photo/core/status.h"

namespace photo::broker::amqp {

// Called on the loop's job thread for each event. OK acks it; an error
// requeues it after a pause (so a transient failure of the subscriber's own
// store does not lose events). Deliveries are at least once: dedup on the
// body's event_id (or the message_id).
using EventCallback = std::function<Status(const Delivery& event)>;

class EventSubscriber {
 public:
  // `queue` is declared durable and bound to processed_images on every
  // connect, e.g. EventQueueName("audit") = "events.audit".
  EventSubscriber(AmqpConfig config, std::string queue, EventCallback callback);

  // Blocks until `stop`; reconnects by itself. Errors only for bad config.
  Status Run(std::stop_token stop) { return loop_->Run(stop); }
  bool consuming() const { return loop_->consuming(); }

 private:
  std::unique_ptr<ConsumerLoop> loop_;
};

}  // namespace photo::broker::amqp
