#include "photo/broker/amqp/connection.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <vector>

#include "photo/broker/amqp/headers.h"

namespace photo::broker::amqp {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Status ServerError(std::string_view what, int code, const amqp_bytes_t& text) {
  std::string msg = std::string(what) + ": " + std::to_string(code) + " " + ToString(text);
  switch (code) {
    case 404:
      return NotFoundError("amqp_not_found", msg);
    case 406:
      return FailedPreconditionError("amqp_precondition_failed", msg);
    case 403:
      return FailedPreconditionError("amqp_access_refused", msg);
    default:
      return UnavailableError("broker_unavailable", msg);
  }
}

bool IsSocketError(int rc) {
  switch (rc) {
    case AMQP_STATUS_OK:
    case AMQP_STATUS_NO_MEMORY:
    case AMQP_STATUS_BAD_AMQP_DATA:
    case AMQP_STATUS_UNKNOWN_CLASS:
    case AMQP_STATUS_UNKNOWN_METHOD:
    case AMQP_STATUS_TABLE_TOO_BIG:
    case AMQP_STATUS_INVALID_PARAMETER:
    case AMQP_STATUS_UNEXPECTED_STATE:
      return false;
    default:
      return true;  // socket, timeout, heartbeat timeout, connection closed, SSL
  }
}

// Process-wide memory of which nodes failed lately, shared by every
// connection of the process: after a node dies, the next connects (of the
// publisher, the consumer, the pool's members) go to a live node first
// instead of each paying the dead node's connect timeout.
class NodeHealth {
 public:
  static NodeHealth& Get() {
    static NodeHealth* health = new NodeHealth();  // never destroyed: used until exit
    return *health;
  }
  std::vector<bool> RecentlyFailed(const std::vector<AmqpUrl>& nodes) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    std::vector<bool> out;
    for (const AmqpUrl& u : nodes) {
      auto it = failed_at_.find(NodeName(u));
      out.push_back(it != failed_at_.end() && now - it->second < kMemory);
    }
    return out;
  }
  void Failed(const AmqpUrl& u) {
    std::lock_guard<std::mutex> lock(mu_);
    failed_at_[NodeName(u)] = std::chrono::steady_clock::now();
  }
  void Succeeded(const AmqpUrl& u) {
    std::lock_guard<std::mutex> lock(mu_);
    failed_at_.erase(NodeName(u));
  }
  std::size_t RandomStart(std::size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

 private:
  // Long enough to cover a node's restart (10-30 s here), short enough that
  // a recovered node gets connections again soon.
  static constexpr std::chrono::seconds kMemory{30};
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> failed_at_;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const AmqpConfig& config,
                                                     std::string_view role) {
  ASSIGN_OR_RETURN(std::vector<AmqpUrl> nodes, ParseAmqpUrls(config.url));
  if (nodes.size() == 1) return OpenNode(config, nodes[0], role);
  NodeHealth& health = NodeHealth::Get();
  const std::vector<std::size_t> order =
      ConnectOrder(nodes.size(), health.RandomStart(nodes.size()), health.RecentlyFailed(nodes));
  std::string failures;
  Status last;
  for (std::size_t i : order) {
    auto opened = OpenNode(config, nodes[i], role);
    if (opened.ok()) {
      health.Succeeded(nodes[i]);
      (*opened)->node_ = NodeName(nodes[i]);
      if (!failures.empty()) {
        spdlog::info("AMQP {}: connected to node {} ({})", role, (*opened)->node_, failures);
      }
      return opened;
    }
    health.Failed(nodes[i]);
    last = opened.error();
    failures += (failures.empty() ? "" : "; ") + last.message();
  }
  return Status(last.code(), last.reason(),
                "none of the " + std::to_string(nodes.size()) + " nodes answered: " + failures);
}

Result<std::unique_ptr<Connection>> Connection::OpenNode(const AmqpConfig& config,
                                                         const AmqpUrl& url,
                                                         std::string_view role) {
  std::unique_ptr<Connection> c(new Connection());
  c->node_ = NodeName(url);
  c->conn_ = amqp_new_connection();
  if (c->conn_ == nullptr) return InternalError("amqp_oom", "amqp_new_connection failed");

  amqp_socket_t* sock = nullptr;
  if (url.tls) {
    sock = amqp_ssl_socket_new(c->conn_);
    if (sock == nullptr) return InternalError("amqp_tls", "amqp_ssl_socket_new failed");
    // 0.11 still allows TLS 1.0/1.1 by default.
    amqp_ssl_socket_set_ssl_versions(sock, AMQP_TLSv1_2, AMQP_TLSvLATEST);
    amqp_ssl_socket_set_verify_peer(sock, config.tls_verify ? 1 : 0);
    amqp_ssl_socket_set_verify_hostname(sock, config.tls_verify ? 1 : 0);
    if (!config.tls_ca_file.empty() &&
        amqp_ssl_socket_set_cacert(sock, config.tls_ca_file.c_str()) != AMQP_STATUS_OK)
      return InvalidArgumentError("amqp_tls", "cannot load CA file " + config.tls_ca_file);
    if (!config.tls_cert_file.empty() &&
        amqp_ssl_socket_set_key(sock, config.tls_cert_file.c_str(), config.tls_key_file.c_str()) !=
            AMQP_STATUS_OK)
      return InvalidArgumentError("amqp_tls",
                                  "cannot load client cert/key " + config.tls_cert_file);
  } else {
    sock = amqp_tcp_socket_new(c->conn_);
    if (sock == nullptr) return InternalError("amqp_oom", "amqp_tcp_socket_new failed");
  }

  timeval connect_tv = ToTimeval(config.connect_timeout);
  int rc = amqp_socket_open_noblock(sock, url.host.c_str(), url.port, &connect_tv);
  if (rc != AMQP_STATUS_OK)
    return UnavailableError(
        "broker_unavailable",
        "connect " + url.host + ":" + std::to_string(url.port) + ": " + amqp_error_string2(rc));
  timeval rpc_tv = ToTimeval(config.rpc_timeout);
  amqp_set_handshake_timeout(c->conn_, &rpc_tv);
  amqp_set_rpc_timeout(c->conn_, &rpc_tv);

  // Without capabilities.connection.blocked the broker never tells us that a
  // resource alarm stalls our publishes.
  std::string name =
      config.connection_name + " " + std::string(role) + " pid " + std::to_string(getpid());
  amqp_table_entry_t caps[3];
  caps[0].key = amqp_cstring_bytes("connection.blocked");
  caps[1].key = amqp_cstring_bytes("consumer_cancel_notify");
  caps[2].key = amqp_cstring_bytes("publisher_confirms");
  for (auto& e : caps) {
    e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    e.value.value.boolean = 1;
  }
  amqp_table_entry_t props[3];
  props[0].key = amqp_cstring_bytes("capabilities");
  props[0].value.kind = AMQP_FIELD_KIND_TABLE;
  props[0].value.value.table = amqp_table_t{3, caps};
  props[1].key = amqp_cstring_bytes("connection_name");
  props[1].value.kind = AMQP_FIELD_KIND_UTF8;
  props[1].value.value.bytes = Bytes(name);
  props[2].key = amqp_cstring_bytes("product");
  props[2].value.kind = AMQP_FIELD_KIND_UTF8;
  props[2].value.value.bytes = amqp_cstring_bytes("photo-pipeline");
  amqp_table_t client_props{3, props};

  amqp_rpc_reply_t r = amqp_login_with_properties(
      c->conn_, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, config.heartbeat_s, &client_props,
      AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    std::string detail;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      detail = amqp_error_string2(r.library_error);
    } else if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
               r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      auto* m = static_cast<amqp_connection_close_t*>(r.reply.decoded);
      detail = std::to_string(m->reply_code) + " " + ToString(m->reply_text);
    }
    return UnavailableError("amqp_login_failed", "login as '" + url.user + "' to vhost '" +
                                                     url.vhost + "' on " + url.host + ":" +
                                                     std::to_string(url.port) + ": " + detail);
  }
  c->healthy_ = true;
  RETURN_IF_ERROR(c->ReopenChannel());
  return c;
}

Connection::~Connection() {
  if (conn_ == nullptr) return;
  if (healthy_) {
    if (channel_open_) amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn_);
}

Status Connection::ReopenChannel() {
  if (!healthy_) return UnavailableError("broker_unavailable", "connection is broken");
  amqp_channel_open(conn_, kChannel);
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    healthy_ = false;
    return UnavailableError("broker_unavailable", "channel.open failed");
  }
  channel_open_ = true;
  ++channel_generation_;
  return Status::Ok();
}

Status Connection::LibStatus(int rc, std::string_view what) {
  if (rc == AMQP_STATUS_OK) return Status::Ok();
  if (IsSocketError(rc)) healthy_ = false;
  std::string msg = std::string(what) + ": " + amqp_error_string2(rc);
  if (rc == AMQP_STATUS_TIMEOUT) return DeadlineExceededError("broker_timeout", msg);
  return UnavailableError("broker_unavailable", msg);
}

Status Connection::HandleClose(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return Status::Ok();
  if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
    Status s = ServerError("channel closed by broker", m->reply_code, m->reply_text);
    amqp_channel_close_ok_t ok{};
    channel_open_ = false;
    if (amqp_send_method(conn_, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok) !=
        AMQP_STATUS_OK) {
      healthy_ = false;
      return s;
    }
    Status reopened = ReopenChannel();
    (void)reopened;  // a failure marked the connection broken; report the cause
    return s;
  }
  if (frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
    Status s = ServerError("connection closed by broker", m->reply_code, m->reply_text);
    amqp_connection_close_ok_t ok{};
    (void)amqp_send_method(conn_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    healthy_ = false;
    channel_open_ = false;
    return UnavailableError("broker_unavailable", s.message());
  }
  return Status::Ok();
}

Status Connection::RpcStatus(std::string_view what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn_);
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Status::Ok();
    case AMQP_RESPONSE_NONE:
      healthy_ = false;
      return UnavailableError("broker_unavailable", std::string(what) + ": missing RPC reply");
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: {
      Status s = LibStatus(r.library_error, what);
      // An RPC that failed half-way leaves the frame stream in an unknown
      // state; only a fresh connection is trustworthy.
      healthy_ = false;
      return s;
    }
    case AMQP_RESPONSE_SERVER_EXCEPTION: {
      amqp_frame_t f{};
      f.frame_type = AMQP_FRAME_METHOD;
      f.channel = r.reply.id == AMQP_CHANNEL_CLOSE_METHOD ? kChannel : 0;
      f.payload.method = r.reply;
      Status s = HandleClose(f);
      return Status(s.code(), s.reason(), std::string(what) + ": " + s.message());
    }
  }
  healthy_ = false;
  return UnavailableError("broker_unavailable", std::string(what) + ": unknown reply");
}

}  // namespace photo::broker::amqp
