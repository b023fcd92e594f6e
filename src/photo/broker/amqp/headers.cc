#include "photo/broker/amqp/headers.h"

#include <charconv>

namespace photo::broker::amqp {
namespace {

bool IntOf(const amqp_field_value_t& v, std::int64_t& out) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_I8:
      out = v.value.i8;
      return true;
    case AMQP_FIELD_KIND_U8:
      out = v.value.u8;
      return true;
    case AMQP_FIELD_KIND_I16:
      out = v.value.i16;
      return true;
    case AMQP_FIELD_KIND_U16:
      out = v.value.u16;
      return true;
    case AMQP_FIELD_KIND_I32:
      out = v.value.i32;
      return true;
    case AMQP_FIELD_KIND_U32:
      out = v.value.u32;
      return true;
    case AMQP_FIELD_KIND_I64:
      out = v.value.i64;
      return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      out = static_cast<std::int64_t>(v.value.u64);
      return true;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: {
      std::string s = ToString(v.value.bytes);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      return !s.empty() && ec == std::errc() && p == s.data() + s.size();
    }
    default:
      return false;
  }
}

const amqp_field_value_t* Find(const amqp_table_t& table, std::string_view key) {
  for (int i = 0; i < table.num_entries; ++i) {
    if (ToString(table.entries[i].key) == key) return &table.entries[i].value;
  }
  return nullptr;
}

}  // namespace

TableBuilder& TableBuilder::AddString(std::string key, std::string value) {
  entries_.push_back(Entry{std::move(key), false, std::move(value), 0});
  return *this;
}

TableBuilder& TableBuilder::AddInt(std::string key, std::int64_t value) {
  entries_.push_back(Entry{std::move(key), true, {}, value});
  return *this;
}

TableBuilder& TableBuilder::AddStrings(const std::map<std::string, std::string>& entries) {
  for (const auto& [k, v] : entries) AddString(k, v);
  return *this;
}

amqp_table_t TableBuilder::table() {
  raw_.clear();
  raw_.reserve(entries_.size());
  for (Entry& e : entries_) {
    amqp_table_entry_t t{};
    t.key = Bytes(e.key);
    if (e.is_int) {
      t.value.kind = AMQP_FIELD_KIND_I64;
      t.value.value.i64 = e.number;
    } else {
      t.value.kind = AMQP_FIELD_KIND_UTF8;
      t.value.value.bytes = Bytes(e.text);
    }
    raw_.push_back(t);
  }
  return amqp_table_t{static_cast<int>(raw_.size()), raw_.empty() ? nullptr : raw_.data()};
}

std::map<std::string, std::string> DecodeHeaders(const amqp_table_t& table) {
  std::map<std::string, std::string> out;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& e = table.entries[i];
    const std::string key = ToString(e.key);
    std::int64_t n = 0;
    switch (e.value.kind) {
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES:
        out[key] = ToString(e.value.value.bytes);
        break;
      case AMQP_FIELD_KIND_BOOLEAN:
        out[key] = e.value.value.boolean ? "true" : "false";
        break;
      default:
        if (IntOf(e.value, n)) out[key] = std::to_string(n);
        break;
    }
  }
  return out;
}

std::int64_t HeaderInt(const amqp_table_t& table, std::string_view key, std::int64_t fallback) {
  const amqp_field_value_t* v = Find(table, key);
  std::int64_t n = 0;
  return (v != nullptr && IntOf(*v, n)) ? n : fallback;
}

std::int64_t XDeathCount(const amqp_table_t& table, std::string_view queue,
                         std::string_view reason) {
  const amqp_field_value_t* v = Find(table, "x-death");
  if (v == nullptr || v->kind != AMQP_FIELD_KIND_ARRAY) return 0;
  std::int64_t total = 0;
  const amqp_array_t& arr = v->value.array;
  for (int i = 0; i < arr.num_entries; ++i) {
    if (arr.entries[i].kind != AMQP_FIELD_KIND_TABLE) continue;
    const amqp_table_t& death = arr.entries[i].value.table;
    const amqp_field_value_t* q = Find(death, "queue");
    const amqp_field_value_t* r = Find(death, "reason");
    auto matches = [](const amqp_field_value_t* f, std::string_view want) {
      if (want.empty()) return true;
      return f != nullptr &&
             (f->kind == AMQP_FIELD_KIND_UTF8 || f->kind == AMQP_FIELD_KIND_BYTES) &&
             ToString(f->value.bytes) == want;
    };
    if (!matches(q, queue) || !matches(r, reason)) continue;
    total += HeaderInt(death, "count", 1);
  }
  return total;
}

int AttemptOf(const amqp_table_t& headers, std::string_view queue) {
  std::int64_t attempt = HeaderInt(headers, "x-attempt", 0);
  if (attempt <= 0) attempt = 1 + XDeathCount(headers, queue, "rejected");
  if (attempt > 1000000) attempt = 1000000;
  return static_cast<int>(attempt);
}

}  // namespace photo::broker::amqp
