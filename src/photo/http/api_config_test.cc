#include "photo/http/api_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <vector>
#include <string>

namespace photo::http {
namespace {

EnvLookup MapEnv(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(ApiConfigTest, DefaultsMatchTheContract) {
  ApiConfig c;
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.threads, 64);
  EXPECT_EQ(c.data_dir, "./var/data");
  EXPECT_TRUE(c.api_token.empty());
  EXPECT_EQ(c.max_body_bytes(), c.limits.max_bytes + c.multipart_overhead);
  EXPECT_TRUE(c.Validate().ok());
  ASSERT_TRUE(c.LoadFromEnv(MapEnv({})).ok());
  EXPECT_EQ(c.port, 8000);
}

TEST(ApiConfigTest, LoadsEveryVariable) {
  ApiConfig c;
  Status s = c.LoadFromEnv(MapEnv({{"PHOTO_PIPELINE_LISTEN", "127.0.0.1:0"},
                                   {"PHOTO_PIPELINE_DATA_DIR", "/srv/photos"},
                                   {"PHOTO_PIPELINE_MAX_BYTES", "1000"},
                                   {"PHOTO_PIPELINE_MAX_PIXELS", "2000"},
                                   {"PHOTO_PIPELINE_MAX_FRAMES", "3"},
                                   {"PHOTO_PIPELINE_HTTP_THREADS", "4"},
                                   {"PHOTO_PIPELINE_HTTP_READ_TIMEOUT", "7"},
                                   {"PHOTO_PIPELINE_HTTP_WRITE_TIMEOUT", "8"},
                                   {"PHOTO_PIPELINE_API_TOKEN", "t0k3n"},
                                   {"PHOTO_PIPELINE_RETRY_AFTER", "9"},
                                   {"PHOTO_PIPELINE_ACCESS_LOG", "false"}}));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.data_dir, "/srv/photos");
  EXPECT_EQ(c.limits.max_bytes, 1000u);
  EXPECT_EQ(c.limits.max_pixels, 2000u);
  EXPECT_EQ(c.limits.max_frames, 3);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.read_timeout_s, 7);
  EXPECT_EQ(c.write_timeout_s, 8);
  EXPECT_EQ(c.api_token, "t0k3n");
  EXPECT_EQ(c.retry_after_s, 9);
  EXPECT_FALSE(c.access_log);
  EXPECT_TRUE(c.Validate().ok());
}

TEST(ApiConfigTest, MalformedVariableChangesNothing) {
  ApiConfig c;
  Status s = c.LoadFromEnv(MapEnv({{"PHOTO_PIPELINE_LISTEN", "127.0.0.1:1234"},
                                   {"PHOTO_PIPELINE_HTTP_THREADS", "many"}}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "bad_config");
  EXPECT_NE(s.message().find("PHOTO_PIPELINE_HTTP_THREADS"), std::string::npos) << s.message();
  EXPECT_EQ(c.port, 8000);  // all or nothing
  EXPECT_FALSE(c.LoadFromEnv(MapEnv({{"PHOTO_PIPELINE_HTTP_THREADS", "0"}})).ok());
  EXPECT_FALSE(c.LoadFromEnv(MapEnv({{"PHOTO_PIPELINE_ACCESS_LOG", "maybe"}})).ok());
  EXPECT_FALSE(c.LoadFromEnv(MapEnv({{"PHOTO_PIPELINE_MAX_BYTES", "-5"}})).ok());
}

TEST(ApiConfigTest, ValidateRejectsNonsense) {
  ApiConfig c;
  c.api_token = "has space";
  EXPECT_FALSE(c.Validate().ok());
  c = ApiConfig{};
  c.threads = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = ApiConfig{};
  c.port = 70000;
  EXPECT_FALSE(c.Validate().ok());
  c = ApiConfig{};
  c.retry_after_s = 0;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace photo::http

namespace photo::http {
namespace {

TEST(ApiConfigSecretsTest, TokensFromFilesAndLimits) {
  const std::string dir = ::testing::TempDir();
  const std::string upload_file = dir + "/photo-upload-token";
  const std::string admin_file = dir + "/photo-admin-token";
  { std::ofstream(upload_file) << "up-secret\n"; }
  { std::ofstream(admin_file) << "admin-secret\r\n"; }
  ApiConfig c;
  ASSERT_TRUE(c.LoadFromEnv(MapEnv({{"PHOTO_PIPELINE_API_TOKEN_FILE", upload_file},
                                    {"PHOTO_PIPELINE_ADMIN_TOKEN_FILE", admin_file},
                                    {"PHOTO_PIPELINE_RATE_LIMIT", "5.5"},
                                    {"PHOTO_PIPELINE_RATE_BURST", "10"},
                                    {"PHOTO_PIPELINE_TOKEN_RATE_LIMIT", "0"},
                                    {"PHOTO_PIPELINE_HTTP_HEAD_TIMEOUT", "3"},
                                    {"PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS_PER_CLIENT", "0"}}))
                  .ok());
  EXPECT_EQ(c.api_token, "up-secret");
  EXPECT_EQ(c.admin_token, "admin-secret");
  EXPECT_EQ(c.rate_per_client, 5.5);
  EXPECT_EQ(c.burst_per_client, 10);
  EXPECT_EQ(c.rate_per_token, 0);
  EXPECT_EQ(c.head_timeout_s, 3);
  EXPECT_EQ(c.max_connections_per_client, 0);
  EXPECT_TRUE(c.Validate().ok());

  for (const auto& bad : std::vector<std::map<std::string, std::string>>{
           {{"PHOTO_PIPELINE_API_TOKEN", "a"}, {"PHOTO_PIPELINE_API_TOKEN_FILE", upload_file}},
           {{"PHOTO_PIPELINE_ADMIN_TOKEN_FILE", dir + "/does-not-exist"}},
           {{"PHOTO_PIPELINE_RATE_LIMIT", "-1"}},
           {{"PHOTO_PIPELINE_RATE_LIMIT", "fast"}},
           {{"PHOTO_PIPELINE_HTTP_MAX_HEADER_BYTES", "10"}}}) {
    ApiConfig d;
    Status s = d.LoadFromEnv(MapEnv(bad));
    EXPECT_FALSE(s.ok()) << bad.begin()->first;
    EXPECT_EQ(s.reason(), "bad_config");
  }
  ApiConfig same;
  same.api_token = same.admin_token = "one";
  EXPECT_FALSE(same.Validate().ok());  // one token for both roles is no separation
}

}  // namespace
}  // namespace photo::http
