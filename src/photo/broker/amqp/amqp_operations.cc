#include "photo/broker/amqp/amqp_operations.h"

#include <amqp.h>
#include <amqp_framing.h>

#include <algorithm>
#include <cstdlib>

#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/dlq.h"
#include "photo/broker/amqp/headers.h"
#include "photo/broker/amqp/topology.h"
#include "photo/broker/messages.h"

namespace photo::broker::amqp {
namespace {

// A passive declare answers depth and consumers; a missing queue closes the
// channel with 404, which Connection reopens, so one connection serves all.
Result<QueueStats> Inspect(Connection& c, const std::string& queue) {
  QueueStats q;
  q.name = queue;
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(c.get(), Connection::kChannel, Bytes(queue),
                                                   /*passive=*/1, 0, 0, 0, amqp_empty_table);
  Status s = c.RpcStatus("queue.declare(passive) " + queue);
  if (s.code() == StatusCode::kNotFound) return q;
  RETURN_IF_ERROR(s);
  q.exists = true;
  q.messages = ok->message_count;
  q.consumers = ok->consumer_count;
  return q;
}

std::string Header(const std::map<std::string, std::string>& h, const char* key) {
  auto it = h.find(key);
  return it == h.end() ? std::string() : it->second;
}

}  // namespace

Result<QueueStats> InspectQueue(const AmqpConfig& config, const std::string& queue) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "ops"));
  return Inspect(*c, queue);
}

AmqpOperations::AmqpOperations(AmqpConfig config) : config_(std::move(config)) {}

bool AmqpOperations::KnownStage(std::string_view stage) const {
  return std::find(config_.stages.begin(), config_.stages.end(), stage) != config_.stages.end();
}

Result<std::vector<StageStats>> AmqpOperations::Stats() {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config_, "ops"));
  std::vector<StageStats> out;
  for (const std::string& stage : config_.stages) {
    StageStats s;
    s.stage = stage;
    ASSIGN_OR_RETURN(s.work, Inspect(*c, stage));
    for (std::size_t i = 0; i < config_.retry_delays.size(); ++i) {
      ASSIGN_OR_RETURN(QueueStats r, Inspect(*c, RetryQueueName(stage, static_cast<int>(i) + 1)));
      s.retry.push_back(std::move(r));
    }
    ASSIGN_OR_RETURN(s.parking, Inspect(*c, ParkingQueueName(stage)));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<ParkedJob>> AmqpOperations::Parked(std::string_view stage, std::size_t limit) {
  if (!KnownStage(stage)) return NotFoundError("unknown_stage", "no stage " + std::string(stage));
  auto msgs = ListParked(config_, stage, limit);
  if (!msgs && msgs.error().code() == StatusCode::kNotFound) return std::vector<ParkedJob>{};
  if (!msgs) return msgs.error();
  std::vector<ParkedJob> out;
  for (const auto& m : *msgs) {
    ParkedJob j;
    j.stage = std::string(stage);
    j.message_id = m.message_id;
    if (auto job = ParseJob(m.body)) {
      j.image_id = job->id;
      j.filename = job->filename;
    }
    j.error_code = Header(m.headers, "x-error-code");
    j.error_message = Header(m.headers, "x-error-message");
    j.attempts = std::atoi(Header(m.headers, "x-attempts").c_str());
    j.parked_at = Header(m.headers, "x-parked-at");
    j.replays = std::atoi(Header(m.headers, "x-replays").c_str());
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::size_t> AmqpOperations::Replay(std::string_view stage, std::string_view message_id) {
  if (!KnownStage(stage)) return NotFoundError("unknown_stage", "no stage " + std::string(stage));
  auto n = ReplayParked(config_, stage, message_id);
  if (!n && n.error().code() == StatusCode::kNotFound) return std::size_t{0};
  return n;
}

}  // namespace photo::broker::amqp
