// SqliteStatusStore: the embedded default StatusStore (one SQLite file shared
// by the API and every worker process on the machine).
//
// Concurrency model:
//  * WAL journal: readers never block the writer and vice versa; writers are
//    serialised by SQLite's file lock.
//  * A small pool of connections per store object; a connection is used by one
//    thread at a time (opened SQLITE_OPEN_NOMUTEX). Callers on more threads than
//    `max_connections` wait for a free connection.
//  * Update = BEGIN IMMEDIATE; SELECT; mutate; UPDATE; COMMIT. IMMEDIATE takes
//    the write lock up front, so two updaters never both read and then race to
//    upgrade (which would fail with SQLITE_BUSY_SNAPSHOT instead of waiting).
//  * A locked database is waited for (busy_timeout), then the whole transaction
//    is retried with back-off a bounded number of times; after that the call
//    returns kUnavailable("store_unavailable") and the caller retries later.
//  * Create and Delete are group-committed: concurrent callers' writes are
//    queued, and one of the callers commits everything queued in one
//    transaction (one savepoint per write) with one WAL fsync, then wakes
//    each caller with its own result (a duplicate id fails only its own
//    Create). Every call still returns only after its write is committed
//    with the configured `synchronous` level, so durability is unchanged; a
//    failure of the transaction itself (busy after retries, I/O, COMMIT)
//    fails every caller in that batch. Update stays one transaction per call
//    (its `mutate` runs inside it).
//  * After fork() the child never touches connections it inherited: the pool
//    notices the new pid and opens fresh ones (SQLite forbids carrying a
//    connection across fork).
//
// Errors: busy/locked/ioerr/cantopen/full -> kUnavailable("store_unavailable");
// unknown id -> kNotFound("not_found"); duplicate id ->
// kAlreadyExists("already_exists"); unreadable row -> kInternal("corrupt_record");
// anything else -> kInternal("store_error").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "photo/store/status_store.h"

namespace photo::store {

struct SqliteOptions {
  std::string path;              // database file; parent directories are created
  int busy_timeout_ms = 10'000;  // how long one statement waits for a lock
  int max_busy_retries = 5;      // whole-transaction retries after busy_timeout
  int max_connections = 4;       // per store object
  // "FULL" (default): a commit is on disk when Update returns, so a worker
  // that acks its job after Update never loses the status on power loss.
  // "NORMAL" is faster with WAL but may drop the last commits on power loss
  // (never on a process crash).
  std::string synchronous = "FULL";
};

class SqliteStatusStore final : public StatusStore {
 public:
  // Opens (creating if needed) the database and applies schema migrations
  // (PRAGMA user_version). kUnavailable if the file cannot be opened or stays
  // locked; kFailedPrecondition("store_schema_too_new") if a newer binary
  // migrated it.
  static Result<std::unique_ptr<SqliteStatusStore>> Open(const SqliteOptions& options);

  ~SqliteStatusStore() override;
  SqliteStatusStore(const SqliteStatusStore&) = delete;
  SqliteStatusStore& operator=(const SqliteStatusStore&) = delete;

  Status Create(const ImageRecord& record) override;
  Result<ImageRecord> Get(std::string_view id) override;
  // `mutate` may run more than once (when a busy transaction is retried); it
  // runs inside the write transaction, so keep it short and do no I/O there.
  Result<ImageRecord> Update(std::string_view id,
                             const std::function<Status(ImageRecord&)>& mutate) override;
  Status Delete(std::string_view id) override;
  Result<std::map<std::string, std::int64_t>> CountByStatus() override;
  Status Ping() override;
  Result<std::vector<ImageRecord>> ScanNewest(const ScanKey* after, std::string_view status,
                                              int limit) override;
  Result<std::vector<ImageRecord>> ScanChanged(const ScanKey& after, int limit) override;

  // Transactions the group commit has run (Create/Delete); for tests.
  std::uint64_t group_commits() const;

  // The schema version this binary writes.
  static constexpr int kSchemaVersion = 2;

 private:
  class Impl;
  explicit SqliteStatusStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace photo::store
