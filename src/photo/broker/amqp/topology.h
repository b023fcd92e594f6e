// The broker topology of photo-pipeline, declared idempotently by every
// process on every (re)connect. Table and rationale: docs/broker.md.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "photo/broker/amqp/config.h"
#include "photo/core/status.h"

namespace photo::broker::amqp {

class Connection;

// "<stage>.retry.<step>", step 1-based: the queue a failed attempt `step`
// waits in for retry_delays[step-1] before going back to `<stage>`.
std::string RetryQueueName(std::string_view stage, int step);
// "<stage>.parking": jobs that exhausted their attempts or failed permanently.
std::string ParkingQueueName(std::string_view stage);
// "events.<name>": a durable subscriber queue bound to processed_images.
std::string EventQueueName(std::string_view name);

// Work queue `stage` (durable, of config.queue_type; DLX "" -> <stage>.parking
// so a reject(requeue=false) parks; quorum: x-delivery-limit too), its retry
// queues (one per config.retry_delays) and its parking queue. If a queue
// already exists with other arguments (e.g. declared by the old Python
// system, or of the other type), it is used as it is and a warning (an error
// for a type mismatch) is logged.
Status DeclareStage(Connection& c, std::string_view stage, const AmqpConfig& config);

// The fanout exchange processed_images (durable).
Status DeclareEventsExchange(Connection& c);

// A durable queue `queue` of `type` bound to processed_images.
Status DeclareEventQueue(Connection& c, std::string_view queue, QueueType type);

// Everything: exchange, every config.stages, every config.event_queues.
Status DeclareTopology(Connection& c, const AmqpConfig& config);

// Opens a connection, declares everything and closes: for `photo-pipeline`
// subcommands and tests.
Status DeclareTopology(const AmqpConfig& config);

}  // namespace photo::broker::amqp
