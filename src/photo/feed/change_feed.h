// ChangeFeed: how stage progress reaches the API's GET /events.
//
// Every worker already writes each stage transition (processing, retrying,
// completed, failed) to the shared status store, stamping updated_at. The
// feed reads those changes back in (updated_at, id) order
// (StatusStore::ScanChanged) and turns each new version of a record into an
// event. Nothing changes on the workers' path or on the broker, and the
// processed_images contract stays as it is; several API processes each run
// their own feed over the same store.
//
// Ordering and gaps: updated_at is stamped inside the writer's transaction,
// so a record may become visible with a stamp slightly below one already
// read (PostgreSQL commits concurrent transactions in any order). Each poll
// therefore re-scans `overlap` behind the newest stamp seen and drops
// versions it already emitted ((id, updated_at) pairs). Clients apply an
// event only if its updated_at is newer than what they show.
//
// Event ids are "<updated_at_ms>-<image id>", meaningful to any API process:
// a client reconnecting with Last-Event-ID gets CatchUp() from the store
// (from `overlap` before that stamp), then live events.
//
// The poller runs only while someone is subscribed: an API nobody watches
// does not query the store.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "photo/core/status.h"
#include "photo/store/status_store.h"

namespace photo::feed {

struct FeedEvent {
  std::uint64_t seq = 0;  // this process's order (not sent to clients)
  std::string id;         // SSE id: "<updated_at_ms>-<image id>"
  std::string status;     // the record's status: uploaded|processing|completed|failed
  std::string data;       // one line of JSON: RecordSummaryJson
};

struct FeedOptions {
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds overlap{2000};
  std::size_t ring_capacity = 4096;  // events kept for slow subscribers
  int batch = 500;                   // records per ScanChanged call
  int catch_up_limit = 1000;         // records a reconnect may replay
  // Turns a rendition path ("/images/<id>/thumb") into the URL events carry:
  // the API signs it when renditions need signed links. Empty: as it is.
  std::function<std::string(std::string_view path)> rendition_url = {};
};

// The event data for one record version: {"id","filename","status",
// "updated_at","created_at","stages":{stage:{state,attempts,duration_ms,
// error}},"error","thumb":url|null,"faces":count|null,"blurry":bool|null}.
// `rendition_url` as in FeedOptions.
std::string RecordSummaryJson(const store::ImageRecord& record,
                              const std::function<std::string(std::string_view)>& rendition_url = {});

// "<ms>-<id>" <-> ScanKey; nullopt for text that is not such an id.
std::string EventId(std::int64_t updated_at_ms, std::string_view image_id);
std::optional<store::ScanKey> ParseEventId(std::string_view id);

class ChangeFeed {
 public:
  ChangeFeed(store::StatusStore* store, FeedOptions options = {});
  ~ChangeFeed();  // stops the poller
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  struct Batch {
    std::vector<FeedEvent> events;
    bool gap = false;  // events were dropped from the ring before this
                       // subscriber read them: it should reload
  };

  // One client's position in the feed. While any Subscription lives the
  // poller runs. Not thread-safe itself (one per client connection).
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // Events after the last ones returned; waits up to `timeout` for some
    // (returns an empty batch on timeout or when the feed stops).
    Batch Next(std::chrono::milliseconds timeout);
    // Without waiting.
    Batch Poll() { return Next(std::chrono::milliseconds(0)); }
    // Called from the poller thread after new events were added (for
    // servers that wait asynchronously); keep it short and non-blocking.
    void OnEvents(std::function<void()> notify);

   private:
    friend class ChangeFeed;
    Subscription(ChangeFeed* feed, std::uint64_t after);
    ChangeFeed* feed_;
    std::uint64_t after_;
    std::uint64_t token_ = 0;
  };

  // Starts following from now (events already in the ring are not replayed).
  std::unique_ptr<Subscription> Subscribe();

  // The versions a client that last saw `last_event_id` may have missed,
  // oldest first, read from the store (so any API process can answer it).
  // `complete` is false when more than catch_up_limit changed: the client
  // should reload instead.
  struct CatchUpResult {
    std::vector<FeedEvent> events;
    bool complete = true;
  };
  Result<CatchUpResult> CatchUp(std::string_view last_event_id);

  // Events created so far (for tests and metrics).
  std::uint64_t last_seq() const;

  // One poll now, on the caller's thread (tests drive the feed with it).
  Status PollOnce();

 private:
  void Run(std::stop_token stop);
  void Register(Subscription* s, std::uint64_t token);
  void Unregister(std::uint64_t token);

  store::StatusStore* store_;
  FeedOptions options_;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<FeedEvent> ring_;
  std::uint64_t seq_ = 0;
  std::map<std::uint64_t, std::function<void()>> listeners_;  // token -> notify
  std::uint64_t next_token_ = 1;
  int subscribers_ = 0;

  // Poller state (only the polling thread, or PollOnce under poll_mu_).
  std::mutex poll_mu_;
  std::int64_t high_water_ms_ = 0;
  std::map<std::string, std::int64_t> emitted_;  // image id -> updated_at emitted
  bool started_ = false;
  std::jthread thread_;
};

}  // namespace photo::feed
