// GET /events: stage transitions and outcomes as Server-Sent Events.
//
// The events come from feed::ChangeFeed (the status store read back in
// updated_at order, docs/broker.md "Stage progress"). A request subscribes,
// answers a reconnecting client's Last-Event-ID from the store, and hands
// its stream to the hub; from then on nothing blocks on its behalf: the
// feed's poller pushes new events into every open stream, and the hub's
// one thread writes a keep-alive comment to idle streams and forgets closed
// ones.
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "photo/core/ids.h"
#include "photo/feed/change_feed.h"
#include "photo/http/routes.h"
#include "photo/http/webapp_glue.h"
#include "photo/webapp/app_api.h"

namespace photo::http {
namespace {

using namespace std::chrono_literals;

class SseHub {
 public:
  SseHub(store::StatusStore* store, feed::FeedOptions options) : feed_(store, std::move(options)) {}
  ~SseHub() {
    if (thread_.joinable()) {
      thread_.request_stop();
      cv_.notify_all();
      thread_.join();
    }
  }

  feed::ChangeFeed& feed() { return feed_; }

  // Starts streaming `sub`'s events to `stream` after `first`.
  void Add(std::shared_ptr<ResponseStream> stream,
           std::unique_ptr<feed::ChangeFeed::Subscription> sub, std::string first) {
    auto c = std::make_shared<Client>();
    c->stream = std::move(stream);
    c->sub = std::move(sub);
    c->stream->Write(std::move(first));
    std::weak_ptr<Client> weak = c;
    c->sub->OnEvents([weak] {
      if (auto cl = weak.lock()) cl->Flush();
    });
    c->Flush();  // what arrived while the catch-up was read
    {
      std::lock_guard lock(mu_);
      clients_.push_back(c);
      if (!thread_.joinable()) thread_ = std::jthread([this](std::stop_token st) { KeepAlive(st); });
    }
    c->stream->OnClose([weak] {
      if (auto cl = weak.lock()) cl->closed = true;
    });
  }

 private:
  struct Client {
    std::shared_ptr<ResponseStream> stream;
    std::unique_ptr<feed::ChangeFeed::Subscription> sub;
    std::mutex mu;  // one writer at a time keeps the events in order
    std::atomic<bool> closed{false};
    void Flush() {
      std::lock_guard lock(mu);
      if (closed || stream->closed()) return;
      auto batch = sub->Poll();
      std::string out;
      if (batch.gap) out += webapp::SseReset();
      for (const auto& e : batch.events) out += webapp::SseEvent(e);
      if (!out.empty() && !stream->Write(std::move(out))) closed = true;
    }
  };

  // Every 15 s: a comment to every open stream (proxies and browsers drop
  // silent connections), and closed streams are let go, which ends their
  // subscriptions (the feed stops polling when none are left).
  void KeepAlive(std::stop_token st) {
    std::unique_lock lock(mu_);
    while (!st.stop_requested()) {
      cv_.wait_for(lock, st, 15s, [] { return false; });
      for (auto it = clients_.begin(); it != clients_.end();) {
        Client& c = **it;
        bool gone = c.closed || c.stream->closed();
        if (!gone) {
          std::lock_guard cl(c.mu);
          gone = !c.stream->Write(webapp::SseKeepAlive());
        }
        it = gone ? clients_.erase(it) : std::next(it);
      }
    }
  }

  feed::ChangeFeed feed_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::list<std::shared_ptr<Client>> clients_;
  std::jthread thread_;
};

Response Events(ApiContext& ctx, SseHub& hub, const Request& req) {
  // Subscribe before reading the catch-up, so nothing falls in between
  // (repeats are harmless: clients keep the newest updated_at).
  auto sub = hub.feed().Subscribe();
  std::string first = webapp::SseHello();
  const std::string last =
      webapp::LastEventId(req.headers.Get("Last-Event-ID"), QueryOf(req, {"last_event_id"}));
  if (!last.empty()) {
    auto c = hub.feed().CatchUp(last);
    if (c) {
      for (const auto& e : c->events) first += webapp::SseEvent(e);
      if (!c->complete) first += webapp::SseReset();
    } else if (c.error().code() != StatusCode::kInvalidArgument) {
      first += webapp::SseReset();  // the store is away: reload once it is back
    }
  }
  (void)ctx;
  Response res;
  for (const auto& [k, v] : webapp::kSseHeaders) res.headers.Set(k, v);
  auto shared_sub = std::make_shared<std::unique_ptr<feed::ChangeFeed::Subscription>>(std::move(sub));
  res.stream = [&hub, shared_sub, first = std::move(first)](std::shared_ptr<ResponseStream> stream) mutable {
    hub.Add(std::move(stream), std::move(*shared_sub), std::move(first));
  };
  return res;
}

}  // namespace

Status RegisterEventRoutes(Router& router, ApiContext& ctx) {
  feed::FeedOptions options;
  // The thumbnail links in events are signed like those of records (they
  // are what the web app shows while renditions need signed links).
  options.rendition_url = [&ctx](std::string_view path) { return ctx.signer.Sign(path, NowUnixMillis() / 1000); };
  auto hub = std::make_shared<SseHub>(ctx.store, std::move(options));
  return router.Add({.method = "GET", .pattern = "/events", .handler = [&ctx, hub](const Request& req) {
                       return Events(ctx, *hub, req);
                     }});
}

}  // namespace photo::http
