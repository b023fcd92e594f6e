#include "photo/broker/amqp/config.h"

#include <amqp.h>

#include <charconv>
#include <cstdlib>
#include <vector>

namespace photo::broker::amqp {
namespace {

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto pos = text.find(sep);
    out.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) break;
    text.remove_prefix(pos + 1);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseInt(std::string_view s, long long& out) {
  s = Trim(s);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

Status EnvInt(const char* name, long long lo, long long hi, long long& out) {
  const char* v = Env(name);
  if (v == nullptr) return Status::Ok();
  long long n = 0;
  if (!ParseInt(v, n) || n < lo || n > hi)
    return InvalidArgumentError("bad_setting", std::string(name) + " must be an integer in [" +
                                                   std::to_string(lo) + ", " + std::to_string(hi) +
                                                   "], got '" + v + "'");
  out = n;
  return Status::Ok();
}

}  // namespace

Result<AmqpUrl> ParseAmqpUrl(std::string_view url) {
  // amqp_parse_url writes into its argument and points the result into it.
  std::string buf(url);
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK || info.host == nullptr ||
      *info.host == '\0')
    return InvalidArgumentError("bad_amqp_url",
                                "not an amqp:// or amqps:// URL: " + RedactUrl(url));
  AmqpUrl out;
  out.host = info.host;
  out.port = info.port;
  out.user = info.user != nullptr ? info.user : "guest";
  out.password = info.password != nullptr ? info.password : "guest";
  out.vhost = (info.vhost != nullptr && *info.vhost != '\0') ? info.vhost : "/";
  out.tls = info.ssl != 0;
  if (out.port <= 0 || out.port > 65535)
    return InvalidArgumentError("bad_amqp_url", "port out of range in " + RedactUrl(url));
  return out;
}

namespace {

std::string RedactOne(std::string_view url) {
  auto scheme = url.find("://");
  auto at = url.rfind('@');
  if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
    return std::string(url);
  }
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  std::string out;
  bool first = true;
  for (std::string_view part : Split(url, ',')) {
    if (!first) out += ',';
    first = false;
    out += RedactOne(part);
  }
  return out;
}

Result<std::vector<AmqpUrl>> ParseAmqpUrls(std::string_view urls) {
  std::vector<AmqpUrl> out;
  for (std::string_view part : Split(urls, ',')) {
    part = Trim(part);
    if (part.empty())
      return InvalidArgumentError("bad_amqp_url",
                                  "empty entry in the AMQP URL list: " + RedactUrl(urls));
    ASSIGN_OR_RETURN(AmqpUrl u, ParseAmqpUrl(part));
    out.push_back(std::move(u));
  }
  return out;
}

std::string NodeName(const AmqpUrl& url) { return url.host + ":" + std::to_string(url.port); }

std::vector<std::size_t> ConnectOrder(std::size_t n, std::size_t start,
                                      const std::vector<bool>& recently_failed) {
  std::vector<std::size_t> healthy, failed;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    const bool bad = i < recently_failed.size() && recently_failed[i];
    (bad ? failed : healthy).push_back(i);
  }
  healthy.insert(healthy.end(), failed.begin(), failed.end());
  return healthy;
}

Result<QueueType> ParseQueueType(std::string_view text) {
  text = Trim(text);
  if (text == "classic") return QueueType::kClassic;
  if (text == "quorum") return QueueType::kQuorum;
  return InvalidArgumentError("bad_setting",
                              "PHOTO_PIPELINE_QUEUE_TYPE must be 'classic' or "
                              "'quorum', got '" +
                                  std::string(text) + "'");
}

const char* QueueTypeName(QueueType type) {
  return type == QueueType::kQuorum ? "quorum" : "classic";
}

Result<std::vector<std::chrono::milliseconds>> ParseRetryDelays(std::string_view text) {
  std::vector<std::chrono::milliseconds> out;
  if (Trim(text).empty()) return out;
  for (std::string_view part : Split(text, ',')) {
    long long ms = 0;
    if (!ParseInt(part, ms) || ms <= 0 || ms > 24LL * 3600 * 1000)
      return InvalidArgumentError("bad_retry_delays",
                                  "retry delays must be comma-separated milliseconds in "
                                  "(0, 86400000], got '" +
                                      std::string(text) + "'");
    out.emplace_back(ms);
  }
  if (out.size() > 20) return InvalidArgumentError("bad_retry_delays", "at most 20 retry steps");
  return out;
}

Result<AmqpConfig> AmqpConfig::FromEnv(AmqpConfig base) {
  AmqpConfig c = std::move(base);
  if (const char* v = Env("PHOTO_PIPELINE_AMQP_URL")) c.url = v;
  long long n = 0;
  if (const char* v = Env("PHOTO_PIPELINE_QUEUE_TYPE")) {
    ASSIGN_OR_RETURN(c.queue_type, ParseQueueType(v));
  }
  n = c.delivery_limit;
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_DELIVERY_LIMIT", 1, 1000000, n));
  c.delivery_limit = static_cast<int>(n);
  n = c.heartbeat_s;
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_HEARTBEAT", 0, 3600, n));
  c.heartbeat_s = static_cast<int>(n);
  n = c.prefetch;
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_PREFETCH", 1, 65535, n));
  c.prefetch = static_cast<int>(n);
  n = c.publish_connections;
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_PUBLISH_CONNECTIONS", 1, 256, n));
  c.publish_connections = static_cast<int>(n);
  n = c.connect_timeout.count();
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_CONNECT_TIMEOUT_MS", 1, 600000, n));
  c.connect_timeout = std::chrono::milliseconds(n);
  n = c.rpc_timeout.count();
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_RPC_TIMEOUT_MS", 1, 600000, n));
  c.rpc_timeout = std::chrono::milliseconds(n);
  n = c.confirm_timeout.count();
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_CONFIRM_TIMEOUT_MS", 1, 600000, n));
  c.confirm_timeout = std::chrono::milliseconds(n);
  n = c.reconnect_max.count();
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_AMQP_RECONNECT_MAX_MS", 1, 600000, n));
  c.reconnect_max = std::chrono::milliseconds(n);
  if (const char* v = std::getenv("PHOTO_PIPELINE_RETRY_DELAYS_MS")) {
    ASSIGN_OR_RETURN(c.retry_delays, ParseRetryDelays(v));
  }
  if (const char* v = Env("PHOTO_PIPELINE_EVENT_QUEUES")) {
    c.event_queues.clear();
    for (std::string_view q : Split(v, ',')) {
      q = Trim(q);
      if (!q.empty()) c.event_queues.emplace_back(q);
    }
  }
  if (const char* v = Env("PHOTO_PIPELINE_AMQP_TLS_CA")) c.tls_ca_file = v;
  if (const char* v = Env("PHOTO_PIPELINE_AMQP_TLS_CERT")) c.tls_cert_file = v;
  if (const char* v = Env("PHOTO_PIPELINE_AMQP_TLS_KEY")) c.tls_key_file = v;
  if (const char* v = Env("PHOTO_PIPELINE_AMQP_TLS_VERIFY")) {
    c.tls_verify = std::string_view(v) != "0" && std::string_view(v) != "false";
  }
  RETURN_IF_ERROR(c.Validate());
  return c;
}

Result<AmqpConfig> AmqpConfig::FromEnv() { return FromEnv(AmqpConfig{}); }

Status AmqpConfig::Validate() const {
  RETURN_IF_ERROR(ParseAmqpUrls(url).status());
  if (delivery_limit < 1)
    return InvalidArgumentError("bad_setting", "delivery limit must be at least 1");
  if (heartbeat_s < 0 || heartbeat_s > 3600)
    return InvalidArgumentError("bad_setting", "heartbeat must be in [0, 3600] s");
  if (prefetch < 1 || prefetch > 65535)
    return InvalidArgumentError("bad_setting", "prefetch must be in [1, 65535]");
  if (publish_connections < 1 || publish_connections > 256)
    return InvalidArgumentError("bad_setting", "publish connections must be in [1, 256]");
  if (connect_timeout.count() <= 0 || rpc_timeout.count() <= 0 || confirm_timeout.count() <= 0)
    return InvalidArgumentError("bad_setting", "timeouts must be positive");
  if (reconnect_initial.count() <= 0 || reconnect_max < reconnect_initial)
    return InvalidArgumentError("bad_setting",
                                "reconnect back-off must be positive, max >= initial");
  if (retry_delays.size() > 20)
    return InvalidArgumentError("bad_retry_delays", "at most 20 retry steps");
  if (tls_cert_file.empty() != tls_key_file.empty())
    return InvalidArgumentError("bad_setting", "TLS client cert and key go together");
  return Status::Ok();
}

}  // namespace photo::broker::amqp
