// PgStatusStore: StatusStore on PostgreSQL (libpq), for deployments where the
// API and workers run on several machines.
//
// Concurrency model:
//  * A small pool of connections per store object; a PGconn is used by one
//    thread at a time. Callers beyond `max_connections` wait for a free one.
//  * Update = BEGIN; SELECT record ... FOR UPDATE; mutate; UPDATE; COMMIT. The
//    row lock serialises concurrent updaters of one id (any process, any
//    machine); updaters of different ids never wait for each other.
//  * A dropped connection (server restart, idle kill, network) is discarded
//    with the rest of the idle pool and the operation is retried on a fresh
//    connection, a bounded number of times, whenever nothing can have been
//    committed yet. A failure of COMMIT itself is ambiguous and is returned as
//    kUnavailable rather than retried (a retried Update could apply twice).
//  * Migrations are versioned in code (table schema_migrations) and applied at
//    Open inside one transaction holding an advisory lock, so many processes
//    starting at once migrate exactly once.
//  * After fork() the child never uses (or closes) inherited connections.
//
// Errors: connection failures, too many connections, serialization/deadlock
// -> kUnavailable("store_unavailable"); unknown id -> kNotFound("not_found");
// duplicate id -> kAlreadyExists("already_exists"); unreadable row ->
// kInternal("corrupt_record"); anything else -> kInternal("store_error").
#pragma once

#include <memory>
#include <string>

#include "photo/store/status_store.h"

namespace photo::store {

struct PgOptions {
  // A libpq connection URI or keyword string: "postgresql://user@host:port/db".
  std::string conninfo;
  int max_connections = 4;    // per store object
  int connect_timeout_s = 5;  // unless conninfo sets connect_timeout
  int max_retries = 3;        // retries of an operation on a fresh connection
};

class PgStatusStore final : public StatusStore {
 public:
  // Connects once and applies pending migrations. kUnavailable if the server
  // cannot be reached; kFailedPrecondition("store_schema_too_new") if a newer
  // binary migrated the database.
  static Result<std::unique_ptr<PgStatusStore>> Open(const PgOptions& options);

  ~PgStatusStore() override;
  PgStatusStore(const PgStatusStore&) = delete;
  PgStatusStore& operator=(const PgStatusStore&) = delete;

  Status Create(const ImageRecord& record) override;
  Result<ImageRecord> Get(std::string_view id) override;
  // `mutate` may run more than once (when the transaction is retried on a
  // fresh connection); it runs while the row is locked, so keep it short.
  Result<ImageRecord> Update(std::string_view id,
                             const std::function<Status(ImageRecord&)>& mutate) override;
  Status Delete(std::string_view id) override;
  Result<std::map<std::string, std::int64_t>> CountByStatus() override;
  Result<std::vector<ImageRecord>> ScanNewest(const ScanKey* after, std::string_view status,
                                              int limit) override;
  Result<std::vector<ImageRecord>> ScanChanged(const ScanKey& after, int limit) override;
  Status Ping() override;

  static constexpr int kSchemaVersion = 2;

 private:
  class Impl;
  explicit PgStatusStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace photo::store
