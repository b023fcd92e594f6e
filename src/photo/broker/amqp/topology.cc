#include "photo/broker/amqp/topology.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <spdlog/spdlog.h>

#include <functional>

#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/headers.h"
#include "photo/broker/publisher.h"

namespace photo::broker::amqp {
namespace {

Status DeclareQueue(Connection& c, const std::string& name, TableBuilder* args) {
  amqp_table_t table = args != nullptr ? args->table() : amqp_empty_table;
  amqp_queue_declare(c.get(), Connection::kChannel, Bytes(name), /*passive=*/0, /*durable=*/1,
                     /*exclusive=*/0, /*auto_delete=*/0, table);
  return c.RpcStatus("queue.declare " + name);
}

// Fills a queue's arguments for a queue type.
using ArgsFor = std::function<void(TableBuilder& args, QueueType type)>;

QueueType Other(QueueType type) {
  return type == QueueType::kQuorum ? QueueType::kClassic : QueueType::kQuorum;
}

// Classic queues get no x-queue-type at all: queues the old Python system
// declared without one must stay equivalent to ours.
void AddQueueType(TableBuilder& args, QueueType type) {
  if (type == QueueType::kQuorum) args.AddString("x-queue-type", "quorum");
}

// Quorum queues dead-letter at most once unless told otherwise; with
// at-least-once the message leaves the source only after the target queue
// confirmed it. RabbitMQ honours the strategy only with
// x-overflow=reject-publish (no length limit is set, so nothing is rejected).
void AddAtLeastOnceDeadLettering(TableBuilder& args) {
  args.AddString("x-dead-letter-strategy", "at-least-once");
  args.AddString("x-overflow", "reject-publish");
}

// Declares `name` with args_for(type); if it exists with other arguments
// (406), uses it as it is rather than failing: a consumer whose setup fails
// retries forever and never consumes, which is worse than a stale argument.
// RabbitMQ's 406 names only the first argument that differs, so a queue of
// the other type is recognised by declaring it as that type.
Status DeclareQueueOrUseExisting(Connection& c, const std::string& name, const ArgsFor& args_for,
                                 QueueType type, std::string_view consequence) {
  TableBuilder args;
  args_for(args, type);
  Status s = DeclareQueue(c, name, &args);
  if (s.code() != StatusCode::kFailedPrecondition || !c.healthy()) return s;
  TableBuilder other;
  args_for(other, Other(type));
  if (DeclareQueue(c, name, &other).ok()) {
    // A queue's type never changes in place: the operator has to move the
    // deployment (docs/broker.md, "Changing the queue type").
    spdlog::error(
        "queue '{}' is a {} queue but PHOTO_PIPELINE_QUEUE_TYPE={}; using it as it is, see "
        "docs/broker.md 'Changing the queue type'",
        name, QueueTypeName(Other(type)), QueueTypeName(type));
    return Status::Ok();
  }
  if (!c.healthy()) return s;
  spdlog::warn("queue '{}' exists with other arguments ({}); using it as declared ({})", name,
               s.message(), consequence);
  amqp_queue_declare(c.get(), Connection::kChannel, Bytes(name), /*passive=*/1, 0, 0, 0,
                     amqp_empty_table);
  return c.RpcStatus("queue.declare(passive) " + name);
}

}  // namespace

std::string RetryQueueName(std::string_view stage, int step) {
  return std::string(stage) + ".retry." + std::to_string(step);
}
std::string ParkingQueueName(std::string_view stage) { return std::string(stage) + ".parking"; }
std::string EventQueueName(std::string_view name) { return "events." + std::string(name); }

Status DeclareStage(Connection& c, std::string_view stage_view, const AmqpConfig& config) {
  const std::string stage(stage_view);
  const std::string parking = ParkingQueueName(stage);
  RETURN_IF_ERROR(DeclareQueueOrUseExisting(c, parking, AddQueueType, config.queue_type,
                                            "parking still works"));
  auto work_args = [&](TableBuilder& args, QueueType type) {
    AddQueueType(args, type);
    args.AddString("x-dead-letter-exchange", "");
    args.AddString("x-dead-letter-routing-key", parking);
    if (type == QueueType::kQuorum) {
      // The broker-side backstop for crash loops (a kill -9 or OOM on one
      // image never reaches our error handling): after this many deliveries
      // the message is dead-lettered to the parking lot.
      args.AddInt("x-delivery-limit", config.delivery_limit);
      AddAtLeastOnceDeadLettering(args);
    }
  };
  // We never rely on the work queue's DLX for retries (parking is an
  // explicit confirmed publish), so an older declaration without it is fine.
  RETURN_IF_ERROR(
      DeclareQueueOrUseExisting(c, stage, work_args, config.queue_type, "no DLX needed"));
  for (size_t i = 0; i < config.retry_delays.size(); ++i) {
    auto retry_args = [&](TableBuilder& args, QueueType type) {
      AddQueueType(args, type);
      args.AddInt("x-message-ttl", config.retry_delays[i].count());
      args.AddString("x-dead-letter-exchange", "");
      args.AddString("x-dead-letter-routing-key", stage);
      // A retried job goes back to its work queue only by dead-lettering on
      // expiry: on quorum queues that hop is made at-least-once.
      if (type == QueueType::kQuorum) AddAtLeastOnceDeadLettering(args);
    };
    // A changed PHOTO_PIPELINE_RETRY_DELAYS_MS: the old delay applies until
    // an operator deletes the retry queue.
    RETURN_IF_ERROR(DeclareQueueOrUseExisting(c, RetryQueueName(stage, static_cast<int>(i) + 1),
                                              retry_args, config.queue_type,
                                              "its old delay stays in force"));
  }
  return Status::Ok();
}

Status DeclareEventsExchange(Connection& c) {
  amqp_exchange_declare(c.get(), Connection::kChannel, amqp_cstring_bytes(kEventsExchange),
                        amqp_cstring_bytes("fanout"), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  return c.RpcStatus(std::string("exchange.declare ") + kEventsExchange);
}

Status DeclareEventQueue(Connection& c, std::string_view queue, QueueType type) {
  RETURN_IF_ERROR(DeclareEventsExchange(c));
  const std::string name(queue);
  RETURN_IF_ERROR(DeclareQueueOrUseExisting(c, name, AddQueueType, type, "events still arrive"));
  amqp_queue_bind(c.get(), Connection::kChannel, Bytes(name), amqp_cstring_bytes(kEventsExchange),
                  amqp_empty_bytes, amqp_empty_table);
  return c.RpcStatus("queue.bind " + name);
}

Status DeclareTopology(Connection& c, const AmqpConfig& config) {
  RETURN_IF_ERROR(DeclareEventsExchange(c));
  for (const std::string& stage : config.stages) {
    RETURN_IF_ERROR(DeclareStage(c, stage, config));
  }
  for (const std::string& q : config.event_queues) {
    RETURN_IF_ERROR(DeclareEventQueue(c, q, config.queue_type));
  }
  return Status::Ok();
}

Status DeclareTopology(const AmqpConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "declare"));
  return DeclareTopology(*c, config);
}

}  // namespace photo::broker::amqp
