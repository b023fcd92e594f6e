#include "photo/broker/amqp/testing.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdlib>
#include <random>
#include <thread>

#include "photo/broker/amqp/headers.h"

namespace photo::broker::amqp::testing {

std::string TestUrl() {
  const char* v = std::getenv("PHOTO_TEST_AMQP_URL");
  if (v != nullptr && *v != '\0') return v;
#ifdef PHOTO_TEST_DEFAULT_AMQP_URL
  return PHOTO_TEST_DEFAULT_AMQP_URL;
#else
  return "";
#endif
}

AmqpConfig TestConfig() {
  AmqpConfig c;
  c.url = TestUrl();
  c.stages.clear();
  c.confirm_timeout = std::chrono::milliseconds(5000);
  c.connect_timeout = std::chrono::milliseconds(2000);
  c.rpc_timeout = std::chrono::milliseconds(5000);
  c.reconnect_initial = std::chrono::milliseconds(100);
  c.reconnect_max = std::chrono::milliseconds(1000);
  c.connection_name = "photo-test";
  return c;
}

std::string UniqueName(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rng()));
  return prefix + "-" + buf;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

int RabbitmqScript(const std::string& args) {
  std::string env;
#if defined(PHOTO_TEST_RMQ_DIR) && defined(PHOTO_TEST_RMQ_PORT)
  // The node this test binary's fixture started, never the default one.
  env = "PHOTO_RMQ_DIR='" PHOTO_TEST_RMQ_DIR "' PHOTO_RMQ_PORT=" PHOTO_TEST_RMQ_PORT
        " PHOTO_RMQ_MGMT_PORT=0 ";
#else
  ADD_FAILURE() << "this test binary has no private node";
  return -1;
#endif
  std::string cmd = env + PHOTO_TEST_SOURCE_DIR "/scripts/rabbitmq.sh " + args;
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

RawClient::RawClient() {
  auto c = Connection::Open(TestConfig(), "test-raw");
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  if (c.ok()) conn_ = std::move(c).value();
}

void RawClient::DeclareQueue(const std::string& name) {
  amqp_queue_declare(conn_->get(), Connection::kChannel, Bytes(name), 0, 1, 0, 0, amqp_empty_table);
  ASSERT_TRUE(conn_->RpcStatus("declare").ok());
}

void RawClient::DeclareFullAfter(const std::string& name, std::int64_t max_length) {
  TableBuilder args;
  args.AddInt("x-max-length", max_length);
  args.AddString("x-overflow", "reject-publish");
  amqp_queue_declare(conn_->get(), Connection::kChannel, Bytes(name), 0, 1, 0, 0, args.table());
  ASSERT_TRUE(conn_->RpcStatus("declare").ok());
}

void RawClient::DeleteQueue(const std::string& name) {
  amqp_queue_delete(conn_->get(), Connection::kChannel, Bytes(name), 0, 0);
  Status s = conn_->RpcStatus("delete");
  (void)s;
}

long RawClient::Count(const std::string& queue) {
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(conn_->get(), Connection::kChannel, Bytes(queue),
                                                   1, 0, 0, 0, amqp_empty_table);
  if (!conn_->RpcStatus("passive").ok()) return -1;
  return static_cast<long>(ok->message_count);
}

std::optional<Got> RawClient::Get(const std::string& queue, bool ack) {
  amqp_rpc_reply_t r = amqp_basic_get(conn_->get(), Connection::kChannel, Bytes(queue), 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    ADD_FAILURE() << conn_->RpcStatus("get").ToString();
    return std::nullopt;
  }
  if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) return std::nullopt;
  auto* ok = static_cast<amqp_basic_get_ok_t*>(r.reply.decoded);
  Got g;
  g.tag = ok->delivery_tag;
  g.redelivered = ok->redelivered != 0;
  amqp_message_t m{};
  if (amqp_read_message(conn_->get(), Connection::kChannel, &m, 0).reply_type !=
      AMQP_RESPONSE_NORMAL) {
    ADD_FAILURE() << "read_message failed";
    return std::nullopt;
  }
  g.body = ToString(m.body);
  const auto& p = m.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) g.message_id = ToString(p.message_id);
  if (p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) g.content_type = ToString(p.content_type);
  if (p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) g.delivery_mode = p.delivery_mode;
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) g.headers = DecodeHeaders(p.headers);
  amqp_destroy_message(&m);
  if (ack) {
    EXPECT_EQ(amqp_basic_ack(conn_->get(), Connection::kChannel, g.tag, 0), 0);
  }
  return g;
}

std::optional<Got> RawClient::WaitGet(const std::string& queue, std::chrono::milliseconds timeout,
                                      bool ack) {
  std::optional<Got> got;
  WaitFor([&] { return (got = Get(queue, ack)).has_value(); }, timeout);
  return got;
}

void RawClient::Crash() {
  // shutdown() instead of a polite close: the broker sees the socket die
  // with deliveries unacked, as after kill -9 of a worker.
  ::shutdown(conn_->sockfd(), SHUT_RDWR);
  conn_->MarkBroken();
  conn_.reset();
}

}  // namespace photo::broker::amqp::testing
