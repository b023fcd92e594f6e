// broker::Operations over AMQP: passive queue declarations (which answer
// both the ready-message count and the consumer count, with no management
// plugin needed) and the parking-lot tools of dlq.h. Each call opens its own
// short-lived connection, so the object is thread-safe and holds nothing
// open between operator requests.
#pragma once

#include <string>
#include <vector>

#include "photo/broker/amqp/config.h"
#include "photo/broker/operations.h"

namespace photo::broker::amqp {

// Depth and consumers of one queue; exists=false if it was never declared.
Result<QueueStats> InspectQueue(const AmqpConfig& config, const std::string& queue);

class AmqpOperations final : public Operations {
 public:
  // `config.stages` (default resize, watermark, detect) and
  // `config.retry_delays` name the queues.
  explicit AmqpOperations(AmqpConfig config);

  Result<std::vector<StageStats>> Stats() override;
  Result<std::vector<ParkedJob>> Parked(std::string_view stage, std::size_t limit) override;
  Result<std::size_t> Replay(std::string_view stage, std::string_view message_id) override;

 private:
  bool KnownStage(std::string_view stage) const;
  AmqpConfig config_;
};

}  // namespace photo::broker::amqp
