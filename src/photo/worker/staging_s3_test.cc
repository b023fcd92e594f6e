// The remote-storage worker suite against the real Ceph gateway.
#include "photo/storage/s3/s3_blob_store.h"
#include "photo/storage/testing/test_gateway.h"
#include "photo/worker/testing/staging_suite.h"

namespace photo::worker {
namespace {

using testing::RemoteStagingTest;
INSTANTIATE_TEST_SUITE_P(S3, RemoteStagingTest,
                         ::testing::Values(testing::RemoteFactory{
                             "s3",
                             []() -> std::unique_ptr<storage::BlobStore> {
                               return std::make_unique<storage::S3BlobStore>(
                                   storage::testing::TestGatewayConfig("worker-test/"));
                             }}),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace photo::worker
