// AMQP field tables <-> std::map, plus the x-death / x-attempt bookkeeping
// that decides a delivery's attempt number. Internal to broker/amqp (it
// exposes rabbitmq-c types); no broker needed, so it is unit-tested.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace photo::broker::amqp {

// Builds an amqp_table_t whose storage it owns. table() stays valid until the
// builder is modified or destroyed. Not thread-safe.
class TableBuilder {
 public:
  TableBuilder() = default;
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  TableBuilder& AddString(std::string key, std::string value);  // 'S' long string
  TableBuilder& AddInt(std::string key, std::int64_t value);    // 'l' signed 64-bit
  TableBuilder& AddStrings(const std::map<std::string, std::string>& entries);

  amqp_table_t table();
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    std::string key;
    bool is_int = false;
    std::string text;
    std::int64_t number = 0;
  };
  std::vector<Entry> entries_;
  std::vector<amqp_table_entry_t> raw_;
};

// Flattens a received header table: strings as-is, integers and timestamps
// as decimal text, booleans as "true"/"false". Nested tables/arrays (x-death)
// and floats are left out: read them with the helpers below.
std::map<std::string, std::string> DecodeHeaders(const amqp_table_t& table);

// Integer header (any integer kind, or a decimal string); `fallback` if
// absent or not a number.
std::int64_t HeaderInt(const amqp_table_t& table, std::string_view key, std::int64_t fallback);

// Sum of x-death[].count for entries with this queue and reason (any queue /
// reason when the argument is empty). 0 when there is no x-death header.
std::int64_t XDeathCount(const amqp_table_t& table, std::string_view queue,
                         std::string_view reason);

// The attempt number of a delivery from `queue`: the x-attempt header we set
// when republishing to a retry queue, else 1 + the number of times the
// message was rejected from `queue` (x-death), else 1.
int AttemptOf(const amqp_table_t& headers, std::string_view queue);

inline std::string ToString(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}
inline amqp_bytes_t Bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

}  // namespace photo::broker::amqp
