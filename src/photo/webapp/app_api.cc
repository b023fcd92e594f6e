#include "photo/webapp/app_api.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "photo/store/listing.h"
#include "photo/webapp/assets.h"

namespace photo::webapp {
namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Reply JsonReply(const json& j) {
  Reply r;
  r.body = Dump(j);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

std::optional<bool> ParseBool(const Query& q, const char* key, Status* error) {
  auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return std::nullopt;
  if (it->second == "true" || it->second == "1") return true;
  if (it->second == "false" || it->second == "0") return false;
  *error = InvalidArgumentError("bad_request", std::string(key) + " must be true or false");
  return std::nullopt;
}

Result<int> ParseLimit(const Query& q, int fallback, int max) {
  auto it = q.find("limit");
  if (it == q.end() || it->second.empty()) return fallback;
  int v = 0;
  const std::string& s = it->second;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 1 || v > max)
    return InvalidArgumentError("bad_limit", "limit must be 1.." + std::to_string(max));
  return v;
}

json QueueJson(const broker::QueueStats& q) {
  return {{"name", q.name}, {"exists", q.exists}, {"messages", q.messages},
          {"consumers", q.consumers}};
}

}  // namespace

Reply ErrorReply(const Status& s, int retry_after_s) {
  int status = 500;
  switch (s.code()) {
    case StatusCode::kInvalidArgument: status = 400; break;
    case StatusCode::kNotFound: status = 404; break;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded: status = 503; break;
    case StatusCode::kUnimplemented: status = 501; break;
    default: break;
  }
  Reply r;
  r.status = status;
  // Server faults keep their details for the log, not the client.
  std::string message = status == 500 ? "internal error" : s.message();
  std::string code = status == 500 ? "internal" : s.reason();
  r.body = Dump({{"error", {{"code", code}, {"message", message}}}});
  if (status == 503) r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
  return r;
}

Reply AssetReply(std::string_view path, std::string_view if_none_match) {
  const Asset* a = FindAsset(path);
  if (!a) return ErrorReply(NotFoundError("not_found", "no such file"));
  Reply r;
  r.content_type = std::string(a->content_type);
  r.headers = {{"ETag", std::string(a->etag)},
               {"Cache-Control", "no-cache"},
               {"Content-Security-Policy", std::string(kContentSecurityPolicy)},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"}};
  // If-None-Match may list several tags, or be "*"; weak tags compare too.
  if (!if_none_match.empty() &&
      (if_none_match == "*" || if_none_match.find(a->etag) != std::string_view::npos)) {
    r.status = 304;
    return r;
  }
  r.body = std::string(a->body);
  return r;
}

Reply ListImagesReply(store::StatusStore& st, const Query& q, const RecordJsonFn& record_json) {
  store::ListQuery lq;
  auto limit = ParseLimit(q, store::kDefaultListLimit, store::kMaxListLimit);
  if (!limit) return ErrorReply(limit.error());
  lq.limit = *limit;
  if (auto it = q.find("cursor"); it != q.end()) lq.cursor = it->second;
  if (auto it = q.find("status"); it != q.end() && !it->second.empty()) {
    const std::string& s = it->second;
    if (s != "uploaded" && s != "processing" && s != "completed" && s != "failed")
      return ErrorReply(InvalidArgumentError(
          "bad_request", "status must be uploaded, processing, completed or failed"));
    lq.status = s;
  }
  Status bad;
  lq.has_faces = ParseBool(q, "has_faces", &bad);
  lq.blurry = ParseBool(q, "blurry", &bad);
  if (!bad.ok()) return ErrorReply(bad);
  auto page = store::ListImages(st, lq);
  if (!page) return ErrorReply(page.error());
  std::string body = "{\"items\":[";
  for (std::size_t i = 0; i < page->items.size(); ++i) {
    if (i) body += ',';
    body += record_json(page->items[i]);
  }
  body += "],\"next_cursor\":";
  body += page->next_cursor.empty() ? "null" : Dump(page->next_cursor);
  body += '}';
  Reply r;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Reply QueuesReply(broker::Operations& ops) {
  auto stats = ops.Stats();
  if (!stats) return ErrorReply(stats.error());
  json stages = json::array();
  for (const auto& s : *stats) {
    json retry = json::array();
    for (const auto& q : s.retry) retry.push_back(QueueJson(q));
    stages.push_back({{"stage", s.stage},
                      {"work", QueueJson(s.work)},
                      {"retry", std::move(retry)},
                      {"parking", QueueJson(s.parking)}});
  }
  return JsonReply({{"stages", std::move(stages)}});
}

Reply ParkedReply(broker::Operations& ops, const Query& q) {
  auto limit = ParseLimit(q, 50, 500);
  if (!limit) return ErrorReply(limit.error());
  std::vector<std::string> stages;
  if (auto it = q.find("stage"); it != q.end() && !it->second.empty()) {
    stages.push_back(it->second);
  } else {
    auto stats = ops.Stats();
    if (!stats) return ErrorReply(stats.error());
    for (const auto& s : *stats) stages.push_back(s.stage);
  }
  json jobs = json::array();
  for (const auto& stage : stages) {
    auto parked = ops.Parked(stage, static_cast<std::size_t>(*limit));
    if (!parked) return ErrorReply(parked.error());
    for (const auto& j : *parked) {
      jobs.push_back({{"stage", j.stage},
                      {"message_id", j.message_id},
                      {"image_id", j.image_id},
                      {"filename", j.filename},
                      {"error_code", j.error_code},
                      {"error_message", j.error_message},
                      {"attempts", j.attempts},
                      {"parked_at", j.parked_at},
                      {"replays", j.replays}});
    }
  }
  return JsonReply({{"jobs", std::move(jobs)}});
}

Reply ReplayReply(broker::Operations& ops, std::string_view stage, std::string_view message_id) {
  if (message_id.empty())
    return ErrorReply(InvalidArgumentError("bad_request", "which parked job: message_id missing"));
  auto n = ops.Replay(stage, message_id);
  if (!n) return ErrorReply(n.error());
  return JsonReply({{"stage", stage}, {"message_id", message_id}, {"replayed", *n}});
}

std::string SseHello() { return "retry: 2000\n\n"; }

std::string SseEvent(const feed::FeedEvent& e) {
  // data is one line of JSON (no raw newlines), so one data: field holds it.
  return "id: " + e.id + "\nevent: image\ndata: " + e.data + "\n\n";
}

std::string SseReset() { return "event: reset\ndata: {}\n\n"; }

std::string SseKeepAlive() { return ": keep-alive\n\n"; }

std::string LastEventId(std::string_view header, const Query& q) {
  if (!header.empty()) return std::string(header);
  auto it = q.find("last_event_id");
  return it == q.end() ? std::string() : it->second;
}

}  // namespace photo::webapp
