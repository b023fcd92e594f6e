// Settings of the RabbitMQ adapter: defaults in code, an environment overlay
// (PHOTO_PIPELINE_*), and Validate(). See docs/broker.md for the table.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"

namespace photo::broker::amqp {

inline constexpr const char* kDefaultAmqpUrl = "amqp://guest:guest@127.0.0.1:5672/";

// A parsed amqp:// or amqps:// URL.
struct AmqpUrl {
  std::string host;
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  bool tls = false;
};

// Parses with rabbitmq-c's amqp_parse_url (percent-decoding included). An
// empty vhost path ("amqp://h:5672/" or no path) means the default vhost "/",
// as pika and the contract's default URL expect; "%2f" is "/" explicitly.
// kInvalidArgument("bad_amqp_url") otherwise. Never echoes the password.
Result<AmqpUrl> ParseAmqpUrl(std::string_view url);

// PHOTO_PIPELINE_AMQP_URL: one URL or several, comma-separated, one per node
// of a cluster ("amqp://u:p@10.0.0.1:5672/,amqp://u:p@10.0.0.2:5672/").
// Every entry is a full URL (credentials and vhost may differ per node);
// blanks around commas are ignored. kInvalidArgument("bad_amqp_url") if any
// entry is bad or empty, or the list is empty. Never echoes a password.
Result<std::vector<AmqpUrl>> ParseAmqpUrls(std::string_view urls);

// The URL (or comma list of URLs) with every password replaced by "***".
std::string RedactUrl(std::string_view url);

// "host:port" of a parsed URL, for logs and per-node bookkeeping.
std::string NodeName(const AmqpUrl& url);

// The order in which to try `n` nodes: a rotation starting at `start`
// (callers pick it at random so that processes spread over the cluster),
// with the nodes flagged in `recently_failed` moved to the end (in rotation
// order), so a dead node costs a connect timeout only once it is the last
// hope. `recently_failed` has n entries (or is empty: none failed).
std::vector<std::size_t> ConnectOrder(std::size_t n, std::size_t start,
                                      const std::vector<bool>& recently_failed);

// Queue type of the stage, retry, parking and subscriber queues.
enum class QueueType { kClassic, kQuorum };
// "classic" | "quorum" (case-sensitive, as RabbitMQ spells them).
Result<QueueType> ParseQueueType(std::string_view text);
const char* QueueTypeName(QueueType type);

// "1000,5000,30000" -> {1000ms, 5000ms, 30000ms}. Empty string -> no retry
// steps (every Retry parks). kInvalidArgument("bad_retry_delays") on
// non-numbers, values <= 0 or > 24 h, or more than 20 steps.
Result<std::vector<std::chrono::milliseconds>> ParseRetryDelays(std::string_view text);

struct AmqpConfig {
  // One node or a comma list of nodes (ParseAmqpUrls); connections start at a
  // random node and fail over to the others.
  std::string url = kDefaultAmqpUrl;  // PHOTO_PIPELINE_AMQP_URL
  // classic: a single node (the default). quorum: replicated Raft queues on a
  // 3+ node cluster, with x-delivery-limit as a broker-side crash-loop
  // backstop. The type of an existing queue cannot change (docs/broker.md).
  QueueType queue_type = QueueType::kClassic;  // PHOTO_PIPELINE_QUEUE_TYPE
  // Quorum work queues only: deliveries of one message (counting those
  // returned by a consumer that died or lost its connection) after which the
  // broker dead-letters it to <stage>.parking instead of redelivering it.
  int delivery_limit = 10;  // PHOTO_PIPELINE_AMQP_DELIVERY_LIMIT
  // Negotiated heartbeat; 0 disables (not recommended).
  int heartbeat_s = 30;                             // PHOTO_PIPELINE_AMQP_HEARTBEAT
  std::chrono::milliseconds connect_timeout{5000};  // PHOTO_PIPELINE_AMQP_CONNECT_TIMEOUT_MS
  // Bounds every synchronous RPC (declare, qos, close) and the login.
  std::chrono::milliseconds rpc_timeout{10000};  // PHOTO_PIPELINE_AMQP_RPC_TIMEOUT_MS
  // How long Publish waits for basic.ack before reporting kDeadlineExceeded.
  std::chrono::milliseconds confirm_timeout{10000};  // PHOTO_PIPELINE_AMQP_CONFIRM_TIMEOUT_MS
  int prefetch = 1;                                  // PHOTO_PIPELINE_PREFETCH
  // Publishing connections of a multi-threaded publisher (the API's
  // AmqpPublisherPool): at most this many confirms outstanding at once.
  int publish_connections = 8;  // PHOTO_PIPELINE_AMQP_PUBLISH_CONNECTIONS
  // One retry queue per step; max attempts = steps + 1.
  std::vector<std::chrono::milliseconds> retry_delays{
      std::chrono::milliseconds(1000), std::chrono::milliseconds(5000),
      std::chrono::milliseconds(30000)};  // PHOTO_PIPELINE_RETRY_DELAYS_MS
  // Reconnect back-off: min(max, initial * 2^n) with +-25 % jitter.
  std::chrono::milliseconds reconnect_initial{200};
  std::chrono::milliseconds reconnect_max{10000};  // PHOTO_PIPELINE_AMQP_RECONNECT_MAX_MS
  // Stages whose queues every process declares on connect.
  std::vector<std::string> stages{"resize", "watermark", "detect"};
  // Durable subscriber queues bound to processed_images at declare time, so
  // events are kept even before the subscriber first runs.
  std::vector<std::string> event_queues;  // PHOTO_PIPELINE_EVENT_QUEUES (comma list)
  // TLS (amqps://): CA bundle, optional client cert/key, peer verification.
  std::string tls_ca_file;    // PHOTO_PIPELINE_AMQP_TLS_CA
  std::string tls_cert_file;  // PHOTO_PIPELINE_AMQP_TLS_CERT
  std::string tls_key_file;   // PHOTO_PIPELINE_AMQP_TLS_KEY
  bool tls_verify = true;     // PHOTO_PIPELINE_AMQP_TLS_VERIFY (0 disables)
  // Shown in the management UI (connection_name client property).
  std::string connection_name = "photo-pipeline";

  int max_attempts() const { return static_cast<int>(retry_delays.size()) + 1; }

  // Overlays PHOTO_PIPELINE_* variables that are set onto `base`.
  static Result<AmqpConfig> FromEnv(AmqpConfig base);
  static Result<AmqpConfig> FromEnv();
  Status Validate() const;
};

}  // namespace photo::broker::amqp
