#include "photo/feed/change_feed.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "photo/core/ids.h"

namespace photo::feed {
namespace {

using nlohmann::json;

json ErrorJson(const std::optional<store::ErrorInfo>& e) {
  if (!e) return nullptr;
  return {{"stage", e->stage}, {"code", e->code}, {"message", e->message}};
}

FeedEvent MakeEvent(const store::ImageRecord& r, const FeedOptions& options) {
  FeedEvent e;
  e.id = EventId(r.updated_at_ms, r.id);
  e.status = r.status;
  e.data = RecordSummaryJson(r, options.rendition_url);
  return e;
}

}  // namespace

std::string RecordSummaryJson(const store::ImageRecord& r,
                              const std::function<std::string(std::string_view)>& rendition_url) {
  json stages = json::object();
  for (const auto& s : r.stages) {
    stages[s.stage] = {{"state", s.state},
                       {"attempts", s.attempts},
                       {"duration_ms", s.duration_ms},
                       {"error", ErrorJson(s.error)}};
  }
  json thumb = nullptr;
  if (const auto* t = r.FindRendition("thumb"); t && !t->path.empty()) {
    const std::string path = "/images/" + r.id + "/thumb";
    thumb = rendition_url ? rendition_url(path) : path;
  }
  json j = {
      {"id", r.id},
      {"filename", r.filename},
      {"status", r.status},
      {"created_at", FormatIso8601(r.created_at_ms)},
      {"updated_at", FormatIso8601(r.updated_at_ms)},
      {"updated_at_ms", r.updated_at_ms},
      {"stages", std::move(stages)},
      {"error", ErrorJson(r.error)},
      {"thumb", std::move(thumb)},
      {"faces", r.detections ? json(r.detections->face_count) : json(nullptr)},
      {"blurry", r.detections ? json(r.detections->blurry) : json(nullptr)},
  };
  // Replace, not throw, on invalid UTF-8 (filenames are sanitised, but error
  // messages may quote library output).
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string EventId(std::int64_t updated_at_ms, std::string_view image_id) {
  return std::to_string(updated_at_ms) + "-" + std::string(image_id);
}

std::optional<store::ScanKey> ParseEventId(std::string_view id) {
  auto dash = id.find('-');
  if (dash == 0 || dash == std::string_view::npos || id.size() > 128) return std::nullopt;
  std::int64_t ms = 0;
  auto [p, ec] = std::from_chars(id.data(), id.data() + dash, ms);
  if (ec != std::errc() || p != id.data() + dash || ms < 0) return std::nullopt;
  return store::ScanKey{ms, std::string(id.substr(dash + 1))};
}

ChangeFeed::ChangeFeed(store::StatusStore* store, FeedOptions options)
    : store_(store), options_(options) {}

ChangeFeed::~ChangeFeed() {
  if (thread_.joinable()) {
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
  }
}

std::unique_ptr<ChangeFeed::Subscription> ChangeFeed::Subscribe() {
  std::lock_guard lock(mu_);
  std::unique_ptr<Subscription> s(new Subscription(this, seq_));
  s->token_ = next_token_++;
  listeners_[s->token_] = nullptr;
  ++subscribers_;
  if (!started_) {
    started_ = true;
    thread_ = std::jthread([this](std::stop_token st) { Run(st); });
  }
  cv_.notify_all();
  return s;
}

void ChangeFeed::Unregister(std::uint64_t token) {
  std::lock_guard lock(mu_);
  listeners_.erase(token);
  --subscribers_;
}

std::uint64_t ChangeFeed::last_seq() const {
  std::lock_guard lock(mu_);
  return seq_;
}

void ChangeFeed::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    bool was_idle = false;
    {
      std::unique_lock lock(mu_);
      if (subscribers_ == 0) {
        was_idle = true;
        cv_.wait(lock, stop, [&] { return subscribers_ > 0; });
        if (stop.stop_requested()) return;
      }
    }
    if (was_idle) {
      // Start again a window behind now rather than replaying everything
      // that changed while nobody watched.
      std::lock_guard poll(poll_mu_);
      high_water_ms_ = 0;
      emitted_.clear();
    }
    // A failing store is retried at the next tick; clients keep their
    // connection and see events again once it answers.
    (void)PollOnce();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, stop, options_.poll_interval, [] { return false; });
  }
}

Status ChangeFeed::PollOnce() {
  std::lock_guard poll(poll_mu_);
  const std::int64_t overlap = options_.overlap.count();
  if (high_water_ms_ == 0) high_water_ms_ = NowUnixMillis();
  store::ScanKey from{high_water_ms_ - overlap, ""};
  std::vector<FeedEvent> fresh;
  // Bounded per poll; whatever is left is read on the next tick.
  for (int round = 0; round < 20; ++round) {
    ASSIGN_OR_RETURN(auto rows, store_->ScanChanged(from, options_.batch));
    for (const auto& r : rows) {
      from = {r.updated_at_ms, r.id};
      auto [it, inserted] = emitted_.try_emplace(r.id, r.updated_at_ms);
      if (!inserted) {
        if (it->second >= r.updated_at_ms) continue;
        it->second = r.updated_at_ms;
      }
      high_water_ms_ = std::max(high_water_ms_, r.updated_at_ms);
      fresh.push_back(MakeEvent(r, options_));
    }
    if (static_cast<int>(rows.size()) < options_.batch) break;
  }
  // Versions below the window are never scanned again.
  std::erase_if(emitted_, [&](const auto& kv) { return kv.second < high_water_ms_ - overlap; });
  if (fresh.empty()) return Status::Ok();

  std::vector<std::function<void()>> notify;
  {
    std::lock_guard lock(mu_);
    for (auto& e : fresh) {
      e.seq = ++seq_;
      ring_.push_back(std::move(e));
    }
    while (ring_.size() > options_.ring_capacity) ring_.pop_front();
    for (const auto& [token, fn] : listeners_)
      if (fn) notify.push_back(fn);
  }
  for (const auto& fn : notify) fn();
  cv_.notify_all();
  return Status::Ok();
}

Result<ChangeFeed::CatchUpResult> ChangeFeed::CatchUp(std::string_view last_event_id) {
  auto key = ParseEventId(last_event_id);
  if (!key) return InvalidArgumentError("bad_event_id", "Last-Event-ID is not an event id");
  CatchUpResult out;
  store::ScanKey from{key->ms - options_.overlap.count(), ""};
  while (true) {
    const int want = std::min(options_.batch, options_.catch_up_limit -
                                                  static_cast<int>(out.events.size()));
    if (want <= 0) {
      out.complete = false;
      return out;
    }
    ASSIGN_OR_RETURN(auto rows, store_->ScanChanged(from, want));
    for (const auto& r : rows) {
      from = {r.updated_at_ms, r.id};
      out.events.push_back(MakeEvent(r, options_));
    }
    if (static_cast<int>(rows.size()) < want) return out;
  }
}

ChangeFeed::Subscription::Subscription(ChangeFeed* feed, std::uint64_t after)
    : feed_(feed), after_(after) {}

ChangeFeed::Subscription::~Subscription() { feed_->Unregister(token_); }

void ChangeFeed::Subscription::OnEvents(std::function<void()> notify) {
  std::lock_guard lock(feed_->mu_);
  feed_->listeners_[token_] = std::move(notify);
}

ChangeFeed::Batch ChangeFeed::Subscription::Next(std::chrono::milliseconds timeout) {
  Batch b;
  std::unique_lock lock(feed_->mu_);
  if (timeout.count() > 0)
    feed_->cv_.wait_for(lock, timeout, [&] { return feed_->seq_ > after_; });
  if (feed_->seq_ <= after_) return b;
  const auto& ring = feed_->ring_;
  std::uint64_t first = ring.empty() ? feed_->seq_ + 1 : ring.front().seq;
  if (after_ + 1 < first) {
    b.gap = true;
    after_ = first - 1;
  }
  for (std::size_t i = static_cast<std::size_t>(after_ + 1 - first); i < ring.size(); ++i)
    b.events.push_back(ring[i]);
  after_ = feed_->seq_;
  return b;
}

}  // namespace photo::feed
