// A bounded, fork-aware pool of database connections, shared by the SQLite
// and PostgreSQL stores (each supplies how to open, check and close one).
#pragma once

#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "photo/core/status.h"

namespace photo::store {

template <typename Conn>
class ConnectionPool {
 public:
  struct Ops {
    std::function<Result<Conn*>()> open;
    std::function<void(Conn*)> close;
    // Called (outside the pool's lock) when a lease ends: may roll back an
    // open transaction; false means the connection is spoiled and is closed.
    std::function<bool(Conn*)> reusable;
    // One spoiled connection means the idle ones are spoiled too (a
    // PostgreSQL restart): close them all rather than find out one failed
    // retry at a time.
    bool spoiled_means_all = false;
  };

  // Borrowed connection; goes back to the pool (or is closed) when it ends.
  class Lease {
   public:
    Lease(ConnectionPool* pool, Conn* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::exchange(o.conn_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->Return(conn_);
    }
    Conn* get() const { return conn_; }

   private:
    ConnectionPool* pool_;
    Conn* conn_;
  };

  ConnectionPool(int max_connections, Ops ops)
      : max_(max_connections), ops_(std::move(ops)), pid_(getpid()) {}
  ~ConnectionPool() {
    // A forked child must not touch the parent's handles: closing would talk
    // on the parent's sockets (libpq) or drop its POSIX locks (SQLite).
    if (getpid() != pid_) return;
    for (Conn* c : idle_) ops_.close(c);
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Waits while max_connections are leased; opens one outside the lock.
  Result<Lease> Acquire() {
    std::unique_lock lock(mu_);
    if (getpid() != pid_) {
      idle_.clear();  // the parent's: forgotten, never closed here
      open_ = 0;
      pid_ = getpid();
    }
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      Conn* c = idle_.back();
      idle_.pop_back();
      return Lease(this, c);
    }
    ++open_;
    lock.unlock();
    auto conn = ops_.open();
    if (!conn) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
      return conn.error();
    }
    return Lease(this, *conn);
  }

 private:
  void Return(Conn* conn) {
    const bool reusable = ops_.reusable(conn);
    std::vector<Conn*> doomed;
    {
      std::lock_guard lock(mu_);
      if (getpid() != pid_) return;
      if (reusable) {
        idle_.push_back(conn);
      } else {
        if (ops_.spoiled_means_all) doomed.swap(idle_);
        doomed.push_back(conn);
        open_ -= static_cast<int>(doomed.size());
      }
      cv_.notify_all();
    }
    for (Conn* c : doomed) ops_.close(c);
  }

  const int max_;
  const Ops ops_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Conn*> idle_;
  int open_ = 0;
  pid_t pid_;
};

}  // namespace photo::store
