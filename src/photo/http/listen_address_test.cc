#include "photo/http/listen_address.h"

#include <gtest/gtest.h>

#include <string>

namespace photo::http {
namespace {

TEST(ListenAddressTest, Forms) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(ParseListen("0.0.0.0:8000", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 8000);
  ASSERT_TRUE(ParseListen(":9000", &host, &port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9000);
  ASSERT_TRUE(ParseListen("[::1]:8080", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(ParseListen("localhost:1", &host, &port).ok());
  EXPECT_EQ(host, "localhost");
  ASSERT_TRUE(ParseListen("127.0.0.1:0", &host, &port).ok());
  EXPECT_EQ(port, 0);
  for (const char* bad :
       {"8000", "host:", "host:65536", "host:-1", "::1:80", "[::1]80", "h:8x", ""}) {
    Status s = ParseListen(bad, &host, &port);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.reason(), "bad_config") << bad;
  }
}

}  // namespace
}  // namespace photo::http
