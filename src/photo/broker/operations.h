// What an operator sees of the broker, as the API calls it: queue depth and
// consumers per stage, parked jobs with their reasons, replay. The AMQP
// implementation is broker/amqp/amqp_operations.h; tests of the API use
// FakeOperations-style doubles of their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"

namespace photo::broker {

struct QueueStats {
  std::string name;
  bool exists = false;        // false: never declared (nothing ran yet)
  std::int64_t messages = 0;  // ready (not unacked) messages
  std::int64_t consumers = 0;
};

struct StageStats {
  std::string stage;
  QueueStats work;                // `<stage>`
  std::vector<QueueStats> retry;  // `<stage>.retry.N`, N = 1..
  QueueStats parking;             // `<stage>.parking`
};

struct ParkedJob {
  std::string stage;
  std::string message_id;  // "<image id>:<stage>": what Replay takes
  std::string image_id;    // from the job body ("" if it is not a job)
  std::string filename;
  std::string error_code;  // x-error-code
  std::string error_message;
  int attempts = 0;        // x-attempts
  std::string parked_at;   // x-parked-at, RFC 3339
  int replays = 0;         // x-replays: earlier replays of this job
};

class Operations {
 public:
  virtual ~Operations() = default;
  // One entry per stage, in pipeline order. kUnavailable when the broker is
  // unreachable.
  virtual Result<std::vector<StageStats>> Stats() = 0;
  // Up to `limit` parked jobs of `stage`, oldest first; they stay parked.
  virtual Result<std::vector<ParkedJob>> Parked(std::string_view stage, std::size_t limit) = 0;
  // Moves the parked job `message_id` of `stage` back to its work queue
  // (attempts start again at 1), or every parked job of the stage when
  // `message_id` is empty. Returns how many moved; 0 when it was not there
  // (already replayed by someone else).
  virtual Result<std::size_t> Replay(std::string_view stage, std::string_view message_id) = 0;
};

}  // namespace photo::broker
