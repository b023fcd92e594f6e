#include "photo/broker/amqp/dlq.h"

#include <amqp.h>
#include <amqp_framing.h>

#include "photo/broker/amqp/amqp_publisher.h"
#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/headers.h"
#include "photo/broker/amqp/topology.h"
#include "photo/core/ids.h"

namespace photo::broker::amqp {
namespace {

struct Got {
  bool empty = true;
  std::uint64_t tag = 0;
  ParkedMessage message;
  std::string content_type;
};

Result<Got> GetOne(Connection& c, const std::string& queue) {
  amqp_rpc_reply_t r = amqp_basic_get(c.get(), Connection::kChannel, Bytes(queue), /*no_ack=*/0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    RETURN_IF_ERROR(c.RpcStatus("basic.get " + queue));
  }
  Got g;
  if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) return g;  // get-empty
  auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
  g.empty = false;
  g.tag = ok->delivery_tag;
  g.message.redelivered = ok->redelivered != 0;
  amqp_message_t msg{};
  amqp_rpc_reply_t mr = amqp_read_message(c.get(), Connection::kChannel, &msg, 0);
  if (mr.reply_type != AMQP_RESPONSE_NORMAL) {
    c.MarkBroken();
    return UnavailableError("broker_unavailable", "reading " + queue + " message failed");
  }
  const amqp_basic_properties_t& p = msg.properties;
  g.message.body = ToString(msg.body);
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) g.message.message_id = ToString(p.message_id);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) g.content_type = ToString(p.content_type);
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) g.message.headers = DecodeHeaders(p.headers);
  amqp_destroy_message(&msg);
  return g;
}

}  // namespace

Result<std::size_t> ParkedCount(const AmqpConfig& config, std::string_view stage) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "dlq"));
  const std::string q = ParkingQueueName(stage);
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(c->get(), Connection::kChannel, Bytes(q),
                                                   /*passive=*/1, 0, 0, 0, amqp_empty_table);
  RETURN_IF_ERROR(c->RpcStatus("queue.declare(passive) " + q));
  return static_cast<std::size_t>(ok->message_count);
}

Result<std::vector<ParkedMessage>> ListParked(const AmqpConfig& config, std::string_view stage,
                                              std::size_t limit) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "dlq"));
  const std::string q = ParkingQueueName(stage);
  std::vector<ParkedMessage> out;
  while (out.size() < limit) {
    ASSIGN_OR_RETURN(Got g, GetOne(*c, q));
    if (g.empty) break;
    out.push_back(std::move(g.message));
  }
  // Destroying the connection closes the channel: every fetched message
  // goes back to the parking queue in its original place.
  return out;
}

Result<std::size_t> ReplayParked(const AmqpConfig& config, std::string_view stage_view,
                                 std::string_view only_message_id) {
  const std::string stage(stage_view);
  ASSIGN_OR_RETURN(std::size_t count, ParkedCount(config, stage));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "dlq"));
  AmqpPublisherOptions po;
  po.role = "dlq-replay";
  po.keepalive = false;
  po.declare_topology = false;
  AmqpPublisher publisher(config, po);
  const std::string q = ParkingQueueName(stage);
  std::size_t moved = 0;
  // Bounded by the count at the start: a replayed job that fails at once and
  // is parked again is not replayed twice in one call.
  for (std::size_t fetched = 0; fetched < count; ++fetched) {
    ASSIGN_OR_RETURN(Got g, GetOne(*c, q));
    if (g.empty) break;
    if (!only_message_id.empty() && g.message.message_id != only_message_id) continue;
    OutgoingMessage m;
    m.exchange = "";
    m.routing_key = stage;
    m.body = g.message.body;
    m.message_id = g.message.message_id;
    if (!g.content_type.empty()) m.content_type = g.content_type;
    m.headers = g.message.headers;
    int replays = 0;
    if (auto it = m.headers.find("x-replays"); it != m.headers.end()) {
      replays = std::atoi(it->second.c_str());
    }
    for (const char* k : {"x-error-code", "x-error-status", "x-error-message", "x-attempts",
                          "x-parked-at", "x-last-error-code", "x-last-error-message"}) {
      m.headers.erase(k);
    }
    std::erase_if(m.headers,
                  [](const auto& kv) { return kv.first.rfind("x-first-death-", 0) == 0; });
    m.headers["x-attempt"] = "1";
    m.headers["x-replays"] = std::to_string(replays + 1);
    m.headers["x-replayed-at"] = NowIso8601();
    Status s = publisher.Publish(m);
    if (!s.ok()) return s.WithContext("replaying " + m.message_id);
    RETURN_IF_ERROR(
        c->LibStatus(amqp_basic_ack(c->get(), Connection::kChannel, g.tag, 0), "basic.ack " + q));
    ++moved;
  }
  return moved;
}

Result<std::size_t> PurgeParked(const AmqpConfig& config, std::string_view stage) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> c, Connection::Open(config, "dlq"));
  const std::string q = ParkingQueueName(stage);
  amqp_queue_purge_ok_t* ok = amqp_queue_purge(c->get(), Connection::kChannel, Bytes(q));
  RETURN_IF_ERROR(c->RpcStatus("queue.purge " + q));
  return static_cast<std::size_t>(ok->message_count);
}

}  // namespace photo::broker::amqp
