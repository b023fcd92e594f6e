#include "photo/broker/amqp/event_subscriber.h"

#include "photo/broker/amqp/topology.h"

namespace photo::broker::amqp {

EventSubscriber::EventSubscriber(AmqpConfig config, std::string queue, EventCallback callback) {
  ConsumerOptions o;
  o.queue = queue;
  o.stage_queues = false;
  o.role = "events";
  o.stop_grace = std::chrono::milliseconds(5000);
  o.declare = [queue, type = config.queue_type](Connection& c) {
    return DeclareEventQueue(c, queue, type);
  };
  loop_ = std::make_unique<ConsumerLoop>(
      std::move(config), std::move(o),
      [cb = std::move(callback)](const Delivery& d, std::stop_token) {
        Status s = cb(d);
        return s.ok() ? Disposition::Ack() : Disposition::Retry(s);
      });
}

}  // namespace photo::broker::amqp
