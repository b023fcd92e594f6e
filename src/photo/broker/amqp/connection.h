// One RAII AMQP connection with one channel (rabbitmq-c 0.11). Internal to
// broker/amqp: it exposes rabbitmq-c types. Not thread-safe: rabbitmq-c
// forbids sharing a connection between threads, so every user owns one
// (AmqpPublisher guards its own with a mutex).
#pragma once

#include <amqp.h>

#include <memory>
#include <string>
#include <string_view>

#include "photo/broker/amqp/config.h"
#include "photo/core/status.h"

namespace photo::broker::amqp {

class Connection {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  // Connects to one node of config.url (a comma list of nodes: a random one
  // first, nodes that failed in this process lately last, then each other
  // node in turn; see ConnectOrder). Per node:
  // connects (TCP or TLS, per the URL scheme) within config.connect_timeout,
  // logs in within config.rpc_timeout advertising connection.blocked and
  // consumer_cancel_notify, and opens channel 1. `role` becomes part of the
  // connection name shown by the broker. kUnavailable("broker_unavailable")
  // when unreachable; kUnavailable("amqp_login_failed") on refused login
  // (with several nodes: the last node's error, every node's in the message).
  // Back-off between rounds is the caller's (the consumer loop, the
  // publisher's connect gate): one Open tries every node once.
  static Result<std::unique_ptr<Connection>> Open(const AmqpConfig& config, std::string_view role);

  // Closes the channel and the connection politely when healthy (bounded by
  // the RPC timeout); otherwise just frees it.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  amqp_connection_state_t get() const { return conn_; }
  bool healthy() const { return healthy_; }
  void MarkBroken() { healthy_ = false; }
  int heartbeat_s() const { return amqp_get_heartbeat(conn_); }
  int sockfd() const { return amqp_get_sockfd(conn_); }
  // "host:port" of the node this connection is to.
  const std::string& node() const { return node_; }

  // Status of the last synchronous RPC. A channel-level error (404, 406, ...)
  // answers close-ok and reopens channel 1 so the connection stays usable; a
  // connection-level or socket error marks it broken.
  Status RpcStatus(std::string_view what);
  // Status of a library return code; socket-level errors mark it broken.
  Status LibStatus(int rc, std::string_view what);

  // Handles an asynchronous channel.close / connection.close frame: sends
  // the close-ok, reopens the channel (channel close) or marks the
  // connection broken. Returns the error the broker gave.
  Status HandleClose(const amqp_frame_t& frame);

  Status ReopenChannel();
  // Bumped on every channel (re)open: per-channel state such as confirm
  // mode, QoS and consumers must be set up again when it changes.
  int channel_generation() const { return channel_generation_; }

 private:
  Connection() = default;
  static Result<std::unique_ptr<Connection>> OpenNode(const AmqpConfig& config, const AmqpUrl& url,
                                                      std::string_view role);
  std::string node_;
  amqp_connection_state_t conn_ = nullptr;
  bool healthy_ = false;
  bool channel_open_ = false;
  int channel_generation_ = 0;
};

}  // namespace photo::broker::amqp
