// HttpServer over loopback with raw sockets: the limits and the behaviours a
// well-behaved client library would hide (slow heads, huge header lines,
// half-closed sockets, per-address caps, streams).
#include "photo/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "photo/http/responses.h"

namespace photo::http {
namespace {

using Clock = std::chrono::steady_clock;

// A blocking loopback socket, optionally bound to a 127.0.0.x source.
class RawClient {
 public:
  explicit RawClient(int port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (source != nullptr) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &src.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  bool Send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  // Reads until the peer closes or `timeout_ms` passes, or (stop_at_end) a
  // complete response with Content-Length has arrived.
  std::string Read(int timeout_ms, bool stop_at_end = true) {
    std::string out;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      if (stop_at_end && Complete(out)) break;
    }
    return out;
  }
  static bool Complete(const std::string& r) {
    size_t end = r.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t cl = r.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    return r.size() >= end + 4 + std::stoul(r.substr(cl + 16));
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.host = "127.0.0.1";
    options_.port = 0;
    options_.io_threads = 2;
    options_.worker_threads = 4;
    options_.head_timeout_s = 1;
    options_.keep_alive_timeout_s = 1;
    options_.read_timeout_s = 2;
    options_.max_connections_per_client = 8;
    ASSERT_TRUE(router_
                    .Add({.method = "GET",
                          .pattern = "/hello",
                          .handler = [](const Request& r) {
                            Response res;
                            res.body = "hello " + r.remote_address;
                            return res;
                          }})
                    .ok());
    ASSERT_TRUE(router_
                    .Add({.method = "POST",
                          .pattern = "/echo",
                          .handler = {},
                          .body_handler = [](const Request&) -> std::unique_ptr<BodyReader> {
                            struct Echo : BodyReader {
                              void OnData(std::string_view d) override { got.append(d); }
                              Response Finish(const Status& s) override {
                                if (!s.ok()) return ErrorResponse(HttpStatusFor(s), s.reason(), s.message());
                                Response r;
                                r.body = got;
                                return r;
                              }
                              std::string got;
                            };
                            return std::make_unique<Echo>();
                          },
                          .inline_io = false,
                          .max_body_bytes = 1000}).ok());
    ASSERT_TRUE(router_
                    .Add({.method = "GET",
                          .pattern = "/stream",
                          .handler = [](const Request&) {
                            Response res;
                            res.headers.Set("Content-Type", "text/event-stream");
                            res.stream = [](std::shared_ptr<ResponseStream> s) {
                              std::thread([s] {
                                for (int i = 0; i < 3; ++i) s->Write("data: " + std::to_string(i) + "\n\n");
                                s->End();
                              }).detach();
                            };
                            return res;
                          }})
                    .ok());
  }
  void Start() {
    server_ = std::make_unique<HttpServer>(options_, &router_, nullptr, nullptr);
    ASSERT_TRUE(server_->Start().ok());
  }

  ServerOptions options_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, AnswersAndKeepsAlive) {
  Start();
  RawClient c(server_->port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string r = c.Read(2000);
    EXPECT_EQ(StatusOf(r), 200) << r;
    EXPECT_NE(r.find("hello 127.0.0.1"), std::string::npos);
    EXPECT_NE(r.find("X-Content-Type-Options: nosniff"), std::string::npos);
    EXPECT_EQ(r.find("Connection: close"), std::string::npos);
  }
  // Idle past the keep-alive timeout: closed by the server.
  auto t0 = Clock::now();
  EXPECT_EQ(c.Read(3000, false), "");
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2500));
}

TEST_F(ServerTest, HalfClosedClientGetsItsAnswer) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"));
  c.ShutdownWrite();
  std::string r = c.Read(3000, false);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(r.find("\r\n\r\nabcde"), std::string::npos) << r;
}

TEST_F(ServerTest, SlowHeadIsCutAtTheDeadline) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\n"));
  auto t0 = Clock::now();
  // Closed at the deadline (the socket is gone with the timer: no 408).
  std::string r = c.Read(4000, false);
  EXPECT_EQ(r, "");
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2500));
}

TEST_F(ServerTest, HugeHeaderLineIs431AtOnce) {
  Start();
  RawClient c(server_->port());
  auto t0 = Clock::now();
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nX-Big: " + std::string(64 * 1024, 'a')));
  std::string r = c.Read(2000);
  EXPECT_EQ(StatusOf(r), 431) << r.substr(0, 200);
  EXPECT_NE(r.find("header_too_large"), std::string::npos);
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));
}

TEST_F(ServerTest, BodyLimitsAndChunkedBodies) {
  Start();
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    std::string r = c.Read(2000);
    EXPECT_EQ(StatusOf(r), 200) << r;
    EXPECT_NE(r.find("\r\n\r\nabcde"), std::string::npos);
  }
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
    std::string r = c.Read(2000);
    EXPECT_EQ(StatusOf(r), 413) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos);
  }
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
    std::string r = c.Read(1000, false);
    EXPECT_EQ(r, "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(c.Send("ok"));
    EXPECT_EQ(StatusOf(c.Read(2000)), 200);
  }
}

TEST_F(ServerTest, PerAddressCapRefusesOnlyThatAddress) {
  Start();
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < options_.max_connections_per_client; ++i) {
    held.push_back(std::make_unique<RawClient>(server_->port(), "127.0.0.7"));
    ASSERT_TRUE(held.back()->connected());
  }
  // Let the server accept them all.
  for (int i = 0; i < 100 && server_->connections() < options_.max_connections_per_client; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  RawClient over(server_->port(), "127.0.0.7");
  std::string r = over.Read(2000, false);
  EXPECT_EQ(StatusOf(r), 429) << r;
  EXPECT_NE(r.find("too_many_connections"), std::string::npos);
  RawClient other(server_->port(), "127.0.0.8");
  ASSERT_TRUE(other.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusOf(other.Read(2000)), 200);
}

TEST_F(ServerTest, RateLimitsPerAddressAndPerToken) {
  options_.rate_per_client = 0.01;
  options_.burst_per_client = 2;
  Start();
  auto get = [&](const char* source, const std::string& auth) {
    RawClient c(server_->port(), source);
    c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n");
    return c.Read(2000);
  };
  EXPECT_EQ(StatusOf(get("127.0.0.9", "")), 200);
  EXPECT_EQ(StatusOf(get("127.0.0.9", "")), 200);
  std::string limited = get("127.0.0.9", "");
  EXPECT_EQ(StatusOf(limited), 429) << limited;
  EXPECT_NE(limited.find("Retry-After: "), std::string::npos);
  EXPECT_NE(limited.find("rate_limited"), std::string::npos);
  EXPECT_EQ(StatusOf(get("127.0.0.10", "")), 200);  // other addresses are unaffected
  server_.reset();

  options_.rate_per_client = 0;
  options_.rate_per_token = 0.01;
  options_.burst_per_token = 1;
  Start();
  EXPECT_EQ(StatusOf(get("127.0.0.11", "Authorization: Bearer aaa\r\n")), 200);
  EXPECT_EQ(StatusOf(get("127.0.0.12", "Authorization: Bearer aaa\r\n")), 429);  // same token, new address
  EXPECT_EQ(StatusOf(get("127.0.0.11", "Authorization: Bearer bbb\r\n")), 200);
  EXPECT_EQ(StatusOf(get("127.0.0.11", "")), 200);
}

TEST_F(ServerTest, CorsForAllowedOriginsOnly) {
  options_.cors_origins = {"https://app.example"};
  Start();
  auto ask = [&](const std::string& req) {
    RawClient c(server_->port());
    c.Send(req);
    return c.Read(2000);
  };
  std::string ok = ask("GET /hello HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n");
  EXPECT_NE(ok.find("Access-Control-Allow-Origin: https://app.example\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("Vary: Origin"), std::string::npos);
  std::string other = ask("GET /hello HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n");
  EXPECT_EQ(StatusOf(other), 200);
  EXPECT_EQ(other.find("Access-Control-Allow-Origin"), std::string::npos);
  std::string pre = ask(
      "OPTIONS /echo HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
      "Access-Control-Request-Method: POST\r\n\r\n");
  EXPECT_EQ(StatusOf(pre), 204) << pre;
  EXPECT_NE(pre.find("Access-Control-Allow-Methods: POST"), std::string::npos) << pre;
  EXPECT_NE(pre.find("Access-Control-Allow-Headers: Authorization"), std::string::npos);
  EXPECT_EQ(StatusOf(ask("OPTIONS /echo HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n")), 405);
}

TEST_F(ServerTest, StreamsChunksAndEnds) {
  Start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.Send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r = c.Read(3000, false);
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(r.find("9\r\ndata: 0\n\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"), std::string::npos) << r;
}

TEST_F(ServerTest, GarbageIs400AndUnknownRoutes404) {
  Start();
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("NOT HTTP AT ALL\r\n\r\n"));
    EXPECT_EQ(StatusOf(c.Read(2000)), 400);
  }
  {
    RawClient c(server_->port());
    ASSERT_TRUE(c.Send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string r = c.Read(2000);
    EXPECT_EQ(StatusOf(r), 404);
    EXPECT_NE(r.find("\"not_found\""), std::string::npos);
  }
}

TEST_F(ServerTest, StopClosesIdleConnectionsPromptly) {
  Start();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(std::make_unique<RawClient>(server_->port()));
  ASSERT_TRUE(idle[0]->Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusOf(idle[0]->Read(2000)), 200);
  ASSERT_TRUE(idle[1]->Send("GET /hel"));  // half a head
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t0 = Clock::now();
  server_->Stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(900));
  EXPECT_FALSE(server_->running());
}

}  // namespace
}  // namespace photo::http
