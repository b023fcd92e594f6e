// Publishing to the broker, as the API and the workers see it. The AMQP
// implementation lives in broker/amqp; tests use FakePublisher.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "photo/core/status.h"

namespace photo::broker {

// Queue and exchange names of the outside contract.
inline constexpr const char* kResizeQueue = "resize";
inline constexpr const char* kWatermarkQueue = "watermark";
inline constexpr const char* kDetectQueue = "detect";
inline constexpr const char* kEventsExchange = "processed_images";

struct OutgoingMessage {
  std::string exchange;      // "" = default exchange (routing_key = queue name)
  std::string routing_key;
  std::string body;          // JSON
  std::string message_id;    // stable: "<image id>:<stage>" or "<image id>:<outcome>"
  std::map<std::string, std::string> headers;
  std::string content_type = "application/json";
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Publishes persistently (delivery_mode 2, mandatory) and returns only once
  // the broker confirmed it. kUnavailable when the broker nacked, returned it
  // as unroutable, timed out or is unreachable: the message may or may not have
  // been enqueued, callers treat it as not accepted.
  // Thread-safe.
  virtual Status Publish(const OutgoingMessage& message) = 0;
  // Cheap reachability check for /readyz (connection open and not blocked).
  virtual Status Ping() = 0;
};

// Records what would have been published; can be told to fail.
class FakePublisher : public Publisher {
 public:
  Status Publish(const OutgoingMessage& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fail_.ok()) return fail_;
    published_.push_back(message);
    return Status::Ok();
  }
  Status Ping() override {
    std::lock_guard<std::mutex> lock(mu_);
    return fail_;
  }
  void FailWith(Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(s);
  }
  std::vector<OutgoingMessage> published() const {
    std::lock_guard<std::mutex> lock(mu_);
    return published_;
  }

 private:
  mutable std::mutex mu_;
  Status fail_;
  std::vector<OutgoingMessage> published_;
};

}  // namespace photo::broker
