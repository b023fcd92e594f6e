// The remote-storage worker suite against the real Ceph gateway.
#include "photo/storage/s3/s3_blob_store.h"
#include "photo/worker/testing/staging_suite.h"

namespace photo::worker {
namespace {

using testing::RemoteStagingTest;
INSTANTIATE_TEST_SUITE_P(S3, RemoteStagingTest,
                         ::testing::Values(testing::RemoteFactory{
                             "s3",
                             []() -> std::unique_ptr<storage::BlobStore> {
                               storage::S3Config c;
                               c.bucket = "photo-pipeline";
                               c.prefix = "worker-test/";
                               c.endpoint = std::string("http://127.0.0.1:") + PHOTO_TEST_S3_PORT;
                               c.access_key = "photo";
                               c.secret_key = "photo-secret";
                               return std::make_unique<storage::S3BlobStore>(c);
                             }}),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace photo::worker
