// The test Ceph gateway of this build tree (ctest fixture "s3", started by
// scripts/s3.sh): how the S3 tests of every module address it. Its port is
// compiled in as PHOTO_TEST_S3_PORT by photo_add_s3_test
// (src/photo/storage/CMakeLists.txt).
#pragma once

#include <string>
#include <utility>

#include "photo/storage/s3/s3_config.h"

namespace photo::storage::testing {

// The gateway's bucket and user (scripts/s3.sh defaults), each test suite
// under its own key prefix; few attempts, so that a broken gateway fails a
// test quickly.
inline S3Config TestGatewayConfig(std::string prefix) {
  S3Config c;
  c.bucket = "photo-pipeline";
  c.prefix = std::move(prefix);
  c.endpoint = std::string("http://127.0.0.1:") + PHOTO_TEST_S3_PORT;
  c.access_key = "photo";
  c.secret_key = "photo-secret";
  c.attempts = 3;
  return c;
}

}  // namespace photo::storage::testing
