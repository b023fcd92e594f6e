// Operator tools for the parking queues (`<stage>.parking`): look, replay,
// purge. Each call opens its own connection(s) and closes them.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "photo/broker/amqp/config.h"
#include "photo/core/status.h"

namespace photo::broker::amqp {

struct ParkedMessage {
  std::string message_id;
  std::string body;
  // x-error-code, x-error-message, x-error-status, x-stage, x-attempts,
  // x-parked-at, plus the producer's own headers.
  std::map<std::string, std::string> headers;
  bool redelivered = false;
};

// Number of messages in <stage>.parking (kNotFound if it was never declared).
Result<std::size_t> ParkedCount(const AmqpConfig& config, std::string_view stage);

// Up to `limit` parked messages, oldest first. They stay parked: they are
// fetched without ack and go back when the channel closes (so a concurrent
// replay may briefly see fewer).
Result<std::vector<ParkedMessage>> ListParked(const AmqpConfig& config, std::string_view stage,
                                              std::size_t limit = 100);

// Moves the messages parked right now back to the work queue <stage>, with
// x-attempt reset to 1 and the error headers dropped (x-replays counts
// replays). Each one is acked from the parking queue only after its copy
// was confirmed, so a failure part-way leaves the rest parked (a message
// may then exist in both places: handlers are idempotent). Returns how
// many were moved. With `only_message_id`, just the parked message(s) with
// that message_id move; the others are fetched without ack and go back in
// their places when the channel closes.
Result<std::size_t> ReplayParked(const AmqpConfig& config, std::string_view stage,
                                 std::string_view only_message_id = {});

// Deletes every parked message of `stage`; returns how many.
Result<std::size_t> PurgeParked(const AmqpConfig& config, std::string_view stage);

}  // namespace photo::broker::amqp
