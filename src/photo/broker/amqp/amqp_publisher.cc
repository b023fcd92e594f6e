#include "photo/broker/amqp/amqp_publisher.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>

#include <algorithm>
#include <ctime>

#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/headers.h"
#include "photo/broker/amqp/topology.h"

namespace photo::broker::amqp {
namespace {

using Clock = std::chrono::steady_clock;

timeval Remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() < 0) left = std::chrono::microseconds(0);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(left.count() / 1000000);
  tv.tv_usec = static_cast<suseconds_t>(left.count() % 1000000);
  return tv;
}

}  // namespace

AmqpPublisher::AmqpPublisher(AmqpConfig config, AmqpPublisherOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      backoff_(config_.reconnect_initial, config_.reconnect_max) {
  if (options_.keepalive) {
    keepalive_ = std::jthread([this](std::stop_token stop) { KeepaliveLoop(stop); });
  }
}

AmqpPublisher::~AmqpPublisher() {
  if (keepalive_.joinable()) {
    keepalive_.request_stop();
    wake_.notify_all();
    keepalive_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  conn_.reset();
}

AmqpPublisher::Stats AmqpPublisher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void AmqpPublisher::DropLocked() {
  conn_.reset();
  confirm_generation_ = -1;
  blocked_ = false;
}

Status AmqpPublisher::EnsureConnectedLocked(bool ignore_gate) {
  if (conn_ && conn_->healthy()) {
    if (confirm_generation_ == conn_->channel_generation()) return Status::Ok();
  } else {
    DropLocked();
    if (!ignore_gate && Clock::now() < next_connect_) {
      return UnavailableError("broker_unavailable",
                              "broker unreachable; next connect attempt is backing off");
    }
    auto opened = Connection::Open(config_, options_.role);
    if (!opened.ok()) {
      next_connect_ = Clock::now() + backoff_.Next();
      return opened.error();
    }
    conn_ = std::move(opened).value();
    ++stats_.connects;
    stats_.node = conn_->node();
    if (options_.declare_topology) {
      Status s = DeclareTopology(*conn_, config_);
      if (!s.ok()) {
        spdlog::error("AMQP publisher: declaring topology failed: {}", s.ToString());
        if (!conn_->healthy()) {
          DropLocked();
          next_connect_ = Clock::now() + backoff_.Next();
          return s;
        }
        // A queue with conflicting arguments must not stop publishing to the
        // others; the error is logged and publishes report their own fate.
      }
    }
  }
  // (Re)enable confirms on this channel; delivery tags restart at 1.
  amqp_confirm_select(conn_->get(), Connection::kChannel);
  Status s = conn_->RpcStatus("confirm.select");
  if (!s.ok()) {
    DropLocked();
    next_connect_ = Clock::now() + backoff_.Next();
    return s;
  }
  confirm_generation_ = conn_->channel_generation();
  seq_ = 0;
  backoff_.Reset();
  return Status::Ok();
}

Status AmqpPublisher::PumpLocked(Clock::time_point deadline, bool waiting,
                                 const std::string& message_id) {
  amqp_connection_state_t c = conn_->get();
  while (!waiting || !confirmed_) {
    amqp_frame_t frame{};
    timeval tv = Remaining(deadline);
    amqp_maybe_release_buffers(c);
    int rc = amqp_simple_wait_frame_noblock(c, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) {
      if (!waiting) return Status::Ok();
      ++stats_.timeouts;
      if (blocked_)
        return UnavailableError("broker_blocked",
                                "broker blocked publishing (resource alarm); no confirm within " +
                                    std::to_string(config_.confirm_timeout.count()) + " ms");
      return DeadlineExceededError(
          "confirm_timeout",
          "no publisher confirm within " + std::to_string(config_.confirm_timeout.count()) + " ms");
    }
    if (rc != AMQP_STATUS_OK) return conn_->LibStatus(rc, "waiting for confirm");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        if (m->delivery_tag == seq_ || (m->multiple && m->delivery_tag > seq_)) confirmed_ = true;
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        if (m->delivery_tag == seq_ || (m->multiple && m->delivery_tag > seq_)) {
          confirmed_ = true;
          nacked_ = true;
        }
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        auto* m = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
        std::string text = std::to_string(m->reply_code) + " " + ToString(m->reply_text) +
                           " (exchange '" + ToString(m->exchange) + "', routing key '" +
                           ToString(m->routing_key) + "')";
        amqp_message_t msg{};
        amqp_rpc_reply_t r = amqp_read_message(c, frame.channel, &msg, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
          conn_->MarkBroken();
          return UnavailableError("broker_unavailable", "reading a returned message failed");
        }
        // A return for an older, timed-out publish must not fail this one.
        bool ours = (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0 &&
                    ToString(msg.properties.message_id) == message_id;
        amqp_destroy_message(&msg);
        if (waiting && ours) {
          returned_ = true;
          return_text_ = text;
        }
        break;
      }
      case AMQP_CONNECTION_BLOCKED_METHOD:
        if (!blocked_) spdlog::warn("AMQP publisher: broker blocked this connection (alarm)");
        blocked_ = true;
        break;
      case AMQP_CONNECTION_UNBLOCKED_METHOD:
        if (blocked_) spdlog::info("AMQP publisher: broker unblocked this connection");
        blocked_ = false;
        break;
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        Status s = conn_->HandleClose(frame);
        if (s.code() == StatusCode::kNotFound) {
          return UnavailableError("unroutable", s.message());
        }
        return UnavailableError("broker_unavailable", s.message());
      }
      default:
        break;
    }
  }
  return Status::Ok();
}

Status AmqpPublisher::PublishOnceLocked(const OutgoingMessage& message) {
  RETURN_IF_ERROR(EnsureConnectedLocked(/*ignore_gate=*/false));
  // Notice a close that arrived while idle before trusting the connection.
  Status idle = PumpLocked(Clock::now(), /*waiting=*/false, {});
  if (!idle.ok() || !conn_->healthy() || confirm_generation_ != conn_->channel_generation()) {
    if (conn_ && !conn_->healthy()) DropLocked();
    RETURN_IF_ERROR(EnsureConnectedLocked(/*ignore_gate=*/true));
  }

  TableBuilder headers;
  headers.AddStrings(message.headers);
  amqp_basic_properties_t props{};
  props._flags =
      AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.content_type = Bytes(message.content_type);
  props.timestamp = static_cast<uint64_t>(std::time(nullptr));
  if (!message.message_id.empty()) {
    props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    props.message_id = Bytes(message.message_id);
  }
  if (!headers.empty()) {
    props._flags |= AMQP_BASIC_HEADERS_FLAG;
    props.headers = headers.table();
  }
  confirmed_ = nacked_ = returned_ = false;
  return_text_.clear();
  int rc = amqp_basic_publish(conn_->get(), Connection::kChannel, Bytes(message.exchange),
                              Bytes(message.routing_key), /*mandatory=*/1, /*immediate=*/0, &props,
                              Bytes(message.body));
  if (rc != AMQP_STATUS_OK) {
    Status s = conn_->LibStatus(rc, "basic.publish");
    return UnavailableError("broker_unavailable", s.message());
  }
  ++seq_;
  Status s =
      PumpLocked(Clock::now() + config_.confirm_timeout, /*waiting=*/true, message.message_id);
  if (!s.ok()) return s;
  if (nacked_) {
    ++stats_.nacked;
    return UnavailableError("broker_nack", "broker nacked message " + message.message_id);
  }
  if (returned_) {
    ++stats_.returned;
    if (std::find(options_.drop_unroutable_exchanges.begin(),
                  options_.drop_unroutable_exchanges.end(),
                  message.exchange) != options_.drop_unroutable_exchanges.end()) {
      spdlog::debug("AMQP publisher: {} unroutable on '{}' (no subscriber), dropped",
                    message.message_id, message.exchange);
      return Status::Ok();
    }
    return UnavailableError(
        "unroutable", "message " + message.message_id + " returned as unroutable: " + return_text_);
  }
  ++stats_.confirmed;
  return Status::Ok();
}

Status AmqpPublisher::Publish(const OutgoingMessage& message) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s;
  // A connection that died since the last publish gets one immediate fresh
  // try; after that the back-off gate applies.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool had_connection = conn_ != nullptr;
    s = PublishOnceLocked(message);
    if (s.ok()) return s;
    if (s.reason() == "broker_blocked") return s;
    const bool lost = conn_ == nullptr || !conn_->healthy();
    if (lost) DropLocked();
    if (s.code() == StatusCode::kDeadlineExceeded) DropLocked();
    // A quorum queue nacks while it elects a leader, which passes in well
    // under a second; but a channel whose queue client still points at the
    // dead leader kept nacking for minutes (cluster test, leader kill -9 on
    // RabbitMQ 3.10). A fresh channel re-resolves the leader, so the next
    // attempt reconnects at once instead of retrying on this channel.
    if (s.reason() == "broker_nack") {
      DropLocked();
      next_connect_ = Clock::now();
    }
    if (!(lost && had_connection && s.reason() == "broker_unavailable")) break;
    next_connect_ = Clock::now();
  }
  if (s.code() != StatusCode::kDeadlineExceeded && s.code() != StatusCode::kUnavailable) {
    return UnavailableError(s.reason().empty() ? "broker_unavailable" : s.reason(), s.message());
  }
  return s;
}

Status AmqpPublisher::Ping() {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = EnsureConnectedLocked(/*ignore_gate=*/false);
  if (!s.ok()) return UnavailableError("broker_unavailable", s.message());
  s = PumpLocked(Clock::now(), /*waiting=*/false, {});
  if (!s.ok() || !conn_->healthy()) {
    DropLocked();
    return UnavailableError("broker_unavailable", s.ok() ? "connection lost" : s.message());
  }
  if (blocked_) return UnavailableError("broker_blocked", "broker blocked publishing (alarm)");
  return Status::Ok();
}

Status AmqpPublisher::Connect() {
  std::lock_guard<std::mutex> lock(mu_);
  return EnsureConnectedLocked(/*ignore_gate=*/true);
}

void AmqpPublisher::KeepaliveLoop(std::stop_token stop) {
  const auto interval = config_.heartbeat_s > 0
                            ? std::chrono::milliseconds(config_.heartbeat_s * 1000 / 4)
                            : std::chrono::milliseconds(5000);
  while (!stop.stop_requested()) {
    {
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_.wait_for(lock, stop, interval, [] { return false; });
    }
    if (stop.stop_requested()) break;
    std::lock_guard<std::mutex> lock(mu_);
    if (!conn_) continue;
    Status s = PumpLocked(Clock::now(), /*waiting=*/false, {});
    if (!s.ok() || !conn_->healthy()) {
      spdlog::warn("AMQP publisher: connection lost while idle: {}", s.ToString());
      DropLocked();
      next_connect_ = Clock::now();
    }
  }
}

}  // namespace photo::broker::amqp
