#include "photo/broker/amqp/consumer_loop.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "photo/broker/amqp/amqp_publisher.h"
#include "photo/broker/amqp/backoff.h"
#include "photo/broker/amqp/connection.h"
#include "photo/broker/amqp/headers.h"
#include "photo/broker/amqp/topology.h"
#include "photo/core/ids.h"

namespace photo::broker::amqp {
namespace {

using Clock = std::chrono::steady_clock;

// Sleeps `d` unless `stop` is requested first; returns false if stopped.
bool SleepFor(std::chrono::milliseconds d, std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(m);
  return !cv.wait_for(lock, stop, d, [] { return false; }) && !stop.stop_requested();
}

// Headers worth carrying into a retry / parking copy: ours and the
// producer's, not the broker's dead-letter bookkeeping.
std::map<std::string, std::string> CarriedHeaders(const Delivery& d) {
  std::map<std::string, std::string> h;
  for (const auto& [k, v] : d.headers) {
    if (k.rfind("x-first-death-", 0) == 0 || k.rfind("x-last-death-", 0) == 0) continue;
    h[k] = v;
  }
  return h;
}

OutgoingMessage CopyOf(const Delivery& d, std::string routing_key) {
  OutgoingMessage m;
  m.exchange = "";
  m.routing_key = std::move(routing_key);
  m.body = d.body;
  m.message_id = d.message_id;
  if (!d.content_type.empty()) m.content_type = d.content_type;
  m.headers = CarriedHeaders(d);
  return m;
}

Delivery ToDelivery(const amqp_envelope_t& env, const std::string& queue, int max_attempts) {
  Delivery d;
  d.queue = queue;
  d.body = ToString(env.message.body);
  d.routing_key = ToString(env.routing_key);
  d.redelivered = env.redelivered != 0;
  d.delivery_tag = env.delivery_tag;
  d.max_attempts = max_attempts;
  const amqp_basic_properties_t& p = env.message.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message_id = ToString(p.message_id);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) d.content_type = ToString(p.content_type);
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    d.headers = DecodeHeaders(p.headers);
    d.attempt = AttemptOf(p.headers, queue);
  }
  return d;
}

}  // namespace

Disposition Disposition::Ack(std::vector<OutgoingMessage> publish) {
  return Disposition{Kind::kAck, std::move(publish), Status::Ok()};
}
Disposition Disposition::Retry(Status error, std::vector<OutgoingMessage> publish) {
  return Disposition{Kind::kRetry, std::move(publish), std::move(error)};
}
Disposition Disposition::Park(Status error, std::vector<OutgoingMessage> publish) {
  return Disposition{Kind::kPark, std::move(publish), std::move(error)};
}

ConsumerLoop::ConsumerLoop(AmqpConfig config, ConsumerOptions options, Handler handler)
    : config_(std::move(config)), options_(std::move(options)), handler_(std::move(handler)) {
  if (options_.stage.empty()) options_.stage = options_.queue;
  publisher_ = options_.publisher;
  if (!publisher_) {
    AmqpPublisherOptions po;
    po.role = options_.role + "-publisher";
    publisher_ = std::make_shared<AmqpPublisher>(config_, po);
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ConsumerLoop::~ConsumerLoop() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

ConsumerLoop::Stats ConsumerLoop::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void ConsumerLoop::Wake() {
  std::uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;  // a full counter already means "wake up"
}

Status ConsumerLoop::Run(std::stop_token stop) {
  RETURN_IF_ERROR(config_.Validate());
  if (options_.queue.empty()) return InvalidArgumentError("bad_setting", "no queue to consume");
  if (wake_fd_ < 0) return InternalError("eventfd", "eventfd failed");

  std::stop_source job_stop;
  std::jthread job([this, loop_stop = stop, js = job_stop.get_token()](std::stop_token) {
    JobThread(js, loop_stop);
  });

  Backoff backoff(config_.reconnect_initial, config_.reconnect_max);
  while (!stop.stop_requested()) {
    bool established = false;
    RunSession(stop, established);
    if (established) backoff.Reset();
    if (stop.stop_requested()) break;
    auto delay = backoff.Next();
    spdlog::info("AMQP consumer '{}': reconnecting in {} ms", options_.queue, delay.count());
    SleepFor(delay, stop);
  }

  job_stop.request_stop();
  jobs_cv_.notify_all();
  job.join();
  return Status::Ok();
}

void ConsumerLoop::RunSession(std::stop_token stop, bool& established) {
  auto opened = Connection::Open(config_, options_.role);
  if (!opened.ok()) {
    spdlog::warn("AMQP consumer '{}': {}", options_.queue, opened.error().ToString());
    return;
  }
  std::unique_ptr<Connection> conn = std::move(opened).value();
  amqp_connection_state_t c = conn->get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.connects;
    stats_.node = conn->node();
  }

  Status s;
  if (options_.stage_queues) s = DeclareStage(*conn, options_.stage, config_);
  if (s.ok() && options_.declare) s = options_.declare(*conn);
  if (s.ok()) {
    amqp_basic_qos(c, Connection::kChannel, 0, static_cast<uint16_t>(config_.prefetch), 0);
    s = conn->RpcStatus("basic.qos");
  }
  std::string consumer_tag;
  if (s.ok()) {
    amqp_basic_consume_ok_t* ok =
        amqp_basic_consume(c, Connection::kChannel, Bytes(options_.queue), amqp_empty_bytes,
                           /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
    s = conn->RpcStatus("basic.consume " + options_.queue);
    if (s.ok() && ok != nullptr) consumer_tag = ToString(ok->consumer_tag);
  }
  if (!s.ok()) {
    spdlog::error("AMQP consumer '{}': setup failed: {}", options_.queue, s.ToString());
    return;
  }

  static std::atomic<std::uint64_t> next_session{1};
  const std::uint64_t session = next_session.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Deliveries of a lost session were requeued by the broker.
    jobs_.clear();
    completions_.clear();
  }
  session_.store(session);
  consuming_.store(true);
  established = true;
  spdlog::info("AMQP consumer '{}': consuming (prefetch {}, heartbeat {} s) on {}", options_.queue,
               config_.prefetch, conn->heartbeat_s(), conn->node());

  const int hb = conn->heartbeat_s();
  const int tick_ms = hb > 0 ? std::clamp(hb * 1000 / 4, 100, 1000) : 1000;
  bool cancelled = false;
  Clock::time_point grace_end{};

  auto lose = [&](const std::string& why) {
    spdlog::warn("AMQP consumer '{}': connection lost: {}", options_.queue, why);
    conn->MarkBroken();
  };

  while (conn->healthy()) {
    // 1. Acks for finished jobs, on the channel that received them.
    std::deque<Completion> done;
    bool idle = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done.swap(completions_);
    }
    for (const Completion& d : done) {
      if (d.session != session) continue;
      int rc = AMQP_STATUS_OK;
      switch (d.action) {
        case Action::kAck:
          rc = amqp_basic_ack(c, Connection::kChannel, d.tag, 0);
          break;
        case Action::kNackRequeue:
          rc = amqp_basic_nack(c, Connection::kChannel, d.tag, 0, /*requeue=*/1);
          break;
        case Action::kReject:
          rc = amqp_basic_reject(c, Connection::kChannel, d.tag, 0);
          break;
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (rc != AMQP_STATUS_OK) {
        ++stats_.abandoned;
        continue;
      }
      switch (d.kind) {
        case Disposition::Kind::kAck:
          ++stats_.acked;
          break;
        case Disposition::Kind::kRetry:
          ++stats_.retried;
          break;
        case Disposition::Kind::kPark:
          ++stats_.parked;
          break;
      }
    }
    if (!conn->healthy()) break;

    // 2. Stop: no new deliveries, finish the one in flight, then close.
    if (stop.stop_requested() && !cancelled) {
      cancelled = true;
      grace_end = Clock::now() + options_.stop_grace;
      consuming_.store(false);
      if (!consumer_tag.empty()) {
        amqp_basic_cancel(c, Connection::kChannel, Bytes(consumer_tag));
        Status cs = conn->RpcStatus("basic.cancel");
        if (!cs.ok()) break;
      }
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.clear();  // not started: unacked, so requeued when the channel closes
    }
    if (cancelled) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        idle = !in_flight_ && completions_.empty();
      }
      if (idle) break;
      if (Clock::now() >= grace_end) {
        spdlog::warn(
            "AMQP consumer '{}': handler still running after {} ms stop grace; "
            "closing, its delivery returns to the queue",
            options_.queue, options_.stop_grace.count());
        break;
      }
    }

    // 3. Wait for a frame, a finished job or the tick, whichever is first.
    if (!amqp_data_in_buffer(c) && !amqp_frames_enqueued(c)) {
      pollfd fds[2] = {{conn->sockfd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      int n = poll(fds, 2, tick_ms);
      if (n > 0 && (fds[1].revents & POLLIN)) {
        std::uint64_t v;
        ssize_t r = read(wake_fd_, &v, sizeof v);
        (void)r;
      }
    }

    // 4. Let rabbitmq-c read what arrived and send a heartbeat if due.
    amqp_maybe_release_buffers(c);
    amqp_envelope_t env{};
    timeval zero{0, 0};
    amqp_rpc_reply_t r = amqp_consume_message(c, &env, &zero, 0);
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
      Delivery d = ToDelivery(env, options_.queue, config_.max_attempts());
      amqp_destroy_envelope(&env);
      if (cancelled) continue;  // requeued at close
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.deliveries;
      jobs_.push_back(Job{session, std::move(d)});
      jobs_cv_.notify_all();
      continue;
    }
    if (r.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      lose("consume: unexpected reply");
      break;
    }
    if (r.library_error == AMQP_STATUS_TIMEOUT) continue;
    if (r.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
      lose(amqp_error_string2(r.library_error));
      break;
    }
    // A frame other than basic.deliver is waiting.
    amqp_frame_t frame{};
    int rc = amqp_simple_wait_frame_noblock(c, &frame, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) {
      lose(amqp_error_string2(rc));
      break;
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_CANCEL_METHOD:
        // The broker cancelled us (queue deleted): start over, which
        // re-declares the queue.
        lose("consumer cancelled by the broker");
        break;
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        Status cs = conn->HandleClose(frame);
        lose(cs.ToString());
        break;
      }
      default:
        break;  // connection.blocked etc.: acks still flow on this connection
    }
  }

  consuming_.store(false);
  session_.store(0);  // in-flight work of this session will not be acked
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.abandoned += jobs_.size();
    jobs_.clear();
  }
  conn.reset();  // polite close if healthy: unacked deliveries are requeued
}

ConsumerLoop::PublishOutcome ConsumerLoop::PublishUntilConfirmed(const OutgoingMessage& m,
                                                                 std::uint64_t session,
                                                                 std::stop_token job_stop,
                                                                 Clock::time_point give_up) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
  while (session_.load() == session) {
    Status s = publisher_->Publish(m);
    if (s.ok()) return PublishOutcome::kConfirmed;
    if (Clock::now() >= give_up) {
      spdlog::error("AMQP consumer '{}': publishing {} to '{}' still fails ({}); giving the "
                    "delivery back to the queue",
                    options_.queue, m.message_id, m.routing_key, s.ToString());
      return PublishOutcome::kGaveUp;
    }
    auto delay = backoff.Next();
    spdlog::warn("AMQP consumer '{}': publishing {} to '{}' failed ({}); retry in {} ms",
                 options_.queue, m.message_id, m.routing_key, s.ToString(), delay.count());
    if (!SleepFor(delay, job_stop)) return PublishOutcome::kSessionEnded;
  }
  return PublishOutcome::kSessionEnded;
}

void ConsumerLoop::JobThread(std::stop_token stop, std::stop_token loop_stop) {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      jobs_cv_.wait(lock, stop, [&] { return !jobs_.empty(); });
      if (jobs_.empty()) return;  // stop requested
      job = std::move(jobs_.front());
      jobs_.pop_front();
      if (job.session != session_.load()) continue;
      in_flight_ = true;
    }
    const Delivery& d = job.delivery;

    Disposition disp;
    try {
      disp = handler_(d, loop_stop);
    } catch (const std::exception& e) {
      disp = Disposition::Retry(InternalError("handler_exception", e.what()));
    } catch (...) {
      disp = Disposition::Retry(InternalError("handler_exception", "unknown exception"));
    }

    std::vector<OutgoingMessage> out = std::move(disp.publish);
    Action action = Action::kAck;
    Disposition::Kind kind = disp.kind;
    if (kind == Disposition::Kind::kRetry && d.attempt >= d.max_attempts) {
      kind = Disposition::Kind::kPark;
    }
    const Status& err = disp.error;
    if (kind == Disposition::Kind::kRetry) {
      if (options_.stage_queues && !config_.retry_delays.empty()) {
        const int step = std::min<int>(d.attempt, static_cast<int>(config_.retry_delays.size()));
        OutgoingMessage m = CopyOf(d, RetryQueueName(options_.stage, step));
        m.headers["x-attempt"] = std::to_string(d.attempt + 1);
        m.headers["x-stage"] = options_.stage;
        m.headers["x-last-error-code"] = err.reason();
        m.headers["x-last-error-message"] = err.message();
        out.push_back(std::move(m));
      } else {
        action = Action::kNackRequeue;
        // Requeued messages come straight back: pause like a retry queue.
        auto pause = config_.retry_delays.empty() ? std::chrono::milliseconds(1000)
                                                  : config_.retry_delays.front();
        SleepFor(std::min(pause, std::chrono::milliseconds(5000)), stop);
      }
    } else if (kind == Disposition::Kind::kPark) {
      if (options_.stage_queues) {
        OutgoingMessage m = CopyOf(d, ParkingQueueName(options_.stage));
        m.headers.erase("x-last-error-code");
        m.headers.erase("x-last-error-message");
        m.headers["x-error-code"] = err.reason().empty() ? "unknown" : err.reason();
        m.headers["x-error-status"] = std::string(StatusCodeName(err.code()));
        m.headers["x-error-message"] = err.message();
        m.headers["x-stage"] = options_.stage;
        m.headers["x-attempts"] = std::to_string(d.attempt);
        m.headers["x-parked-at"] = NowIso8601();
        out.push_back(std::move(m));
      } else {
        action = Action::kReject;
      }
    }

    PublishOutcome outcome = PublishOutcome::kConfirmed;
    const Clock::time_point give_up = Clock::now() + options_.publish_give_up;
    for (const OutgoingMessage& m : out) {
      outcome = PublishUntilConfirmed(m, job.session, stop, give_up);
      if (outcome != PublishOutcome::kConfirmed) break;
    }
    if (outcome == PublishOutcome::kGaveUp) {
      action = Action::kNackRequeue;
      kind = Disposition::Kind::kRetry;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_ = false;
      if (outcome != PublishOutcome::kSessionEnded && job.session == session_.load()) {
        completions_.push_back(Completion{job.session, d.delivery_tag, action, kind});
      } else {
        ++stats_.abandoned;
        spdlog::warn(
            "AMQP consumer '{}': {} not acked (connection lost or stopping); the "
            "broker will redeliver it",
            options_.queue, d.message_id);
      }
    }
    Wake();
  }
}

}  // namespace photo::broker::amqp
