#include "photo/broker/amqp/publisher_pool.h"

#include <algorithm>

namespace photo::broker::amqp {

AmqpPublisherPool::AmqpPublisherPool(const AmqpConfig& config, const AmqpPublisherOptions& options,
                                     int size) {
  const int n = std::max(1, size);
  members_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) members_.push_back(std::make_unique<AmqpPublisher>(config, options));
  // The first member is handed out first (back of the LIFO).
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) idle_.push_back(it->get());
}

AmqpPublisherPool::~AmqpPublisherPool() = default;

AmqpPublisher* AmqpPublisherPool::Borrow() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !idle_.empty(); });
  AmqpPublisher* p = idle_.back();
  idle_.pop_back();
  return p;
}

void AmqpPublisherPool::GiveBack(AmqpPublisher* p) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(p);
  }
  cv_.notify_one();
}

Status AmqpPublisherPool::Publish(const OutgoingMessage& message) {
  AmqpPublisher* p = Borrow();
  Status s = p->Publish(message);
  GiveBack(p);
  return s;
}

Status AmqpPublisherPool::Ping() {
  AmqpPublisher* p = Borrow();
  Status s = p->Ping();
  GiveBack(p);
  return s;
}

Status AmqpPublisherPool::Connect() {
  Status first;
  for (auto& m : members_) {
    Status s = m->Connect();
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

AmqpPublisher::Stats AmqpPublisherPool::stats() const {
  AmqpPublisher::Stats sum;
  for (const auto& m : members_) {
    AmqpPublisher::Stats s = m->stats();
    sum.confirmed += s.confirmed;
    sum.nacked += s.nacked;
    sum.returned += s.returned;
    sum.timeouts += s.timeouts;
    sum.connects += s.connects;
  }
  return sum;
}

}  // namespace photo::broker::amqp
