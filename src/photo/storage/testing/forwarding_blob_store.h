// A BlobStore that passes every call to another one: tests derive from it
// and override only the calls they watch or break (a read log, a store that
// can be taken down), instead of forwarding the whole interface by hand.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "photo/storage/blob_store.h"

namespace photo::storage::testing {

class ForwardingBlobStore : public BlobStore {
 public:
  // `inner` is not owned and outlives this store.
  explicit ForwardingBlobStore(BlobStore& inner) : inner_(inner) {}

  Status Put(const std::string& k, std::string_view b) override { return inner_.Put(k, b); }
  Status PutFile(const std::string& k, const std::filesystem::path& f) override {
    return inner_.PutFile(k, f);
  }
  Status Get(const std::string& k, const Sink& sink, std::optional<ByteRange> range) override {
    return inner_.Get(k, sink, range);
  }
  Result<BlobInfo> Head(const std::string& k) override { return inner_.Head(k); }
  Status Delete(const std::string& k) override { return inner_.Delete(k); }
  Result<std::vector<ListEntry>> List(const std::string& prefix) override {
    return inner_.List(prefix);
  }
  Status Check() override { return inner_.Check(); }
  std::optional<std::filesystem::path> LocalPath(const std::string& k) const override {
    return inner_.LocalPath(k);
  }
  Result<std::string> PresignGet(const std::string& k, int ttl) override {
    return inner_.PresignGet(k, ttl);
  }
  std::string Describe() const override { return inner_.Describe(); }

 protected:
  BlobStore& inner() const { return inner_; }

 private:
  BlobStore& inner_;
};

}  // namespace photo::storage::testing
