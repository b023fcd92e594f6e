// The web app's routes as plain functions from parsed requests to replies,
// independent of the HTTP server library (the server glue maps them):
//
//   GET  /, /app/{file}                      AssetReply (ETag, 304, CSP)
//   GET  /images?limit=&cursor=&status=&has_faces=&blurry=
//                                            ListImagesReply
//   GET  /events                             SSE framing: SseEvent, SseReset,
//                                            SseKeepAlive, kSseHeaders
//   GET  /admin/queues                       QueuesReply
//   GET  /admin/parked?stage=&limit=         ParkedReply
//   POST /admin/parked/{stage}/{message_id}/replay
//                                            ReplayReply
//
// Errors use the API's shape {"error": {"code", "message"}}.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "photo/broker/operations.h"
#include "photo/core/status.h"
#include "photo/feed/change_feed.h"
#include "photo/store/image_record.h"
#include "photo/store/status_store.h"

namespace photo::webapp {

using Query = std::map<std::string, std::string, std::less<>>;  // decoded parameters
using RecordJsonFn = std::function<std::string(const store::ImageRecord&)>;

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"error": {"code", "message"}} with the fitting status: kInvalidArgument
// 400, kNotFound 404, kUnavailable/kDeadlineExceeded 503 + Retry-After,
// kUnimplemented 501, else 500 with a fixed message.
Reply ErrorReply(const Status& s, int retry_after_s = 5);

// The asset at `path` with its ETag, Cache-Control: no-cache (revalidated
// each time, so a new binary's app is picked up at once), the app's
// Content-Security-Policy, nosniff and no-referrer; 304 when `if_none_match`
// names its ETag; 404 if there is no such asset.
Reply AssetReply(std::string_view path, std::string_view if_none_match);

// {"items": [record JSON...], "next_cursor": string|null}. `record_json`
// renders one record as GET /status/{id} would (URLs signed or not is the
// server's business).
Reply ListImagesReply(store::StatusStore& store, const Query& query,
                      const RecordJsonFn& record_json);

Reply QueuesReply(broker::Operations& ops);
Reply ParkedReply(broker::Operations& ops, const Query& query);
Reply ReplayReply(broker::Operations& ops, std::string_view stage, std::string_view message_id);

// Server-Sent Events framing for GET /events.
inline const std::vector<std::pair<std::string, std::string>> kSseHeaders = {
    {"Content-Type", "text/event-stream; charset=utf-8"},
    {"Cache-Control", "no-store"},
    {"X-Accel-Buffering", "no"},  // proxies must not buffer the stream
};
// "retry: <ms>" first, so browsers reconnect after a drop in ~2 s.
std::string SseHello();
// "id: <event id>\nevent: image\ndata: <summary>\n\n"
std::string SseEvent(const feed::FeedEvent& e);
// "event: reset": the client lost events and must reload what it shows.
std::string SseReset();
// A comment line: keeps idle connections (and proxies) from timing out.
std::string SseKeepAlive();
// The id a reconnecting client sent: the Last-Event-ID header, else the
// last_event_id query parameter (a fresh EventSource cannot set headers).
std::string LastEventId(std::string_view header, const Query& query);

}  // namespace photo::webapp
