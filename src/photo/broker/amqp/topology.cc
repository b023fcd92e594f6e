#include "photo/broker/amqp/topology.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <spdlog/spdlog.h>

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

// Declares `name`; if it exists with other arguments (406), uses it as it is
// rather than failing: a consumer whose setup fails retries forever and never
// consumes, which is worse than a stale argument.
Status DeclareQueueOrUseExisting(Connection& c, const std::string& name, TableBuilder* args,
                                 std::string_view consequence) {
  Status s = DeclareQueue(c, name, args);
  if (s.code() == StatusCode::kFailedPrecondition && c.healthy()) {
    spdlog::warn("queue '{}' exists with other arguments ({}); using it as declared ({})", name,
                 s.message(), consequence);
    amqp_queue_declare(c.get(), Connection::kChannel, Bytes(name), /*passive=*/1, 0, 0, 0,
                       amqp_empty_table);
    s = c.RpcStatus("queue.declare(passive) " + name);
  }
  return s;
}

}  // namespace

std::string RetryQueueName(std::string_view stage, int step) {
  return std::string(stage) + ".retry." + std::to_string(step);
}
std::string ParkingQueueName(std::string_view stage) { return std::string(stage) + ".parking"; }
std::string EventQueueName(std::string_view name) { return "events." + std::string(name); }

Status DeclareStage(Connection& c, std::string_view stage_view,
                    const std::vector<std::chrono::milliseconds>& retry_delays) {
  const std::string stage(stage_view);
  const std::string parking = ParkingQueueName(stage);
  RETURN_IF_ERROR(DeclareQueue(c, parking, nullptr));
  {
    TableBuilder args;
    args.AddString("x-dead-letter-exchange", "");
    args.AddString("x-dead-letter-routing-key", parking);
    // We never rely on the work queue's DLX (parking is an explicit
    // confirmed publish), so an older declaration without it is fine.
    RETURN_IF_ERROR(DeclareQueueOrUseExisting(c, stage, &args, "no DLX needed"));
  }
  for (size_t i = 0; i < retry_delays.size(); ++i) {
    TableBuilder args;
    args.AddInt("x-message-ttl", retry_delays[i].count());
    args.AddString("x-dead-letter-exchange", "");
    args.AddString("x-dead-letter-routing-key", stage);
    // A changed PHOTO_PIPELINE_RETRY_DELAYS_MS: the old delay applies until
    // an operator deletes the retry queue.
    RETURN_IF_ERROR(DeclareQueueOrUseExisting(c, RetryQueueName(stage, static_cast<int>(i) + 1),
                                              &args, "its old delay stays in force"));
  }
  return Status::Ok();
}

Status DeclareEventsExchange(Connection& c) {
  amqp_exchange_declare(c.get(), Connection::kChannel, amqp_cstring_bytes(kEventsExchange),
                        amqp_cstring_bytes("fanout"), /*passive=*/0, /*durable=*/1,
                        /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
  return c.RpcStatus(std::string("exchange.declare ") + kEventsExchange);
}

Status DeclareEventQueue(Connection& c, std::string_view queue) {
  RETURN_IF_ERROR(DeclareEventsExchange(c));
  const std::string name(queue);
  RETURN_IF_ERROR(DeclareQueue(c, name, nullptr));
  amqp_queue_bind(c.get(), Connection::kChannel, Bytes(name), amqp_cstring_bytes(kEventsExchange),
                  amqp_empty_bytes, amqp_empty_table);
  return c.RpcStatus("queue.bind " + name);
}

Status DeclareTopology(Connection& c, const AmqpConfig& config) {
  RETURN_IF_ERROR(DeclareEventsExchange(c));
  for (const std::string& stage : config.stages) {
    RETURN_IF_ERROR(DeclareStage(c, stage, config.retry_delays));
  }
  for (const std::string& q : config.event_queues) {
    RETURN_IF_ERROR(DeclareEventQueue(c, q));
  }
  return Status::Ok();
}

Status DeclareTopology(const AmqpConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "declare"));
  return DeclareTopology(*c, config);
}

}  // namespace photo::broker::amqp
