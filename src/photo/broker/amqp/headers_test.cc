#include "photo/broker/amqp/headers.h"

#include <gtest/gtest.h>

#include <vector>

namespace photo::broker::amqp {
namespace {

// Encodes with rabbitmq-c's wire encoder and decodes it again, as a broker
// round trip would.
class WireTable {
 public:
  explicit WireTable(amqp_table_t in) : buf_(8192) {
    size_t off = 0;
    amqp_bytes_t out{buf_.size(), buf_.data()};
    EXPECT_EQ(amqp_encode_table(out, &in, &off), AMQP_STATUS_OK);
    init_amqp_pool(&pool_, 4096);
    size_t roff = 0;
    EXPECT_EQ(amqp_decode_table(amqp_bytes_t{off, buf_.data()}, &pool_, &table_, &roff),
              AMQP_STATUS_OK);
  }
  ~WireTable() { empty_amqp_pool(&pool_); }
  const amqp_table_t& table() const { return table_; }

 private:
  std::vector<char> buf_;
  amqp_pool_t pool_{};
  amqp_table_t table_{};
};

TEST(Headers, StringsAndIntsSurviveTheWire) {
  TableBuilder b;
  b.AddStrings({{"x-stage", "resize"}, {"x-error-message", "bad \"jpeg\" ünïcode"}});
  b.AddInt("x-attempt", 3);
  WireTable w(b.table());
  auto h = DecodeHeaders(w.table());
  EXPECT_EQ(h.at("x-stage"), "resize");
  EXPECT_EQ(h.at("x-error-message"), "bad \"jpeg\" ünïcode");
  EXPECT_EQ(h.at("x-attempt"), "3");
  EXPECT_EQ(HeaderInt(w.table(), "x-attempt", -1), 3);
  EXPECT_EQ(HeaderInt(w.table(), "x-stage", -1), -1);
  EXPECT_EQ(HeaderInt(w.table(), "missing", 7), 7);
}

TEST(Headers, AttemptFromStringHeaderAsPublishedByRetry) {
  TableBuilder b;
  b.AddString("x-attempt", "2");
  WireTable w(b.table());
  EXPECT_EQ(AttemptOf(w.table(), "resize"), 2);
  TableBuilder none;
  WireTable empty(none.table());
  EXPECT_EQ(AttemptOf(empty.table(), "resize"), 1);
}

// x-death as RabbitMQ writes it: an array of tables with an int64 count.
TEST(Headers, XDeathCountsRejectionsOfOneQueue) {
  amqp_table_entry_t d1[3], d2[3];
  auto fill = [](amqp_table_entry_t* e, const char* q, const char* reason, int64_t count) {
    e[0].key = amqp_cstring_bytes("queue");
    e[0].value.kind = AMQP_FIELD_KIND_UTF8;
    e[0].value.value.bytes = amqp_cstring_bytes(q);
    e[1].key = amqp_cstring_bytes("reason");
    e[1].value.kind = AMQP_FIELD_KIND_UTF8;
    e[1].value.value.bytes = amqp_cstring_bytes(reason);
    e[2].key = amqp_cstring_bytes("count");
    e[2].value.kind = AMQP_FIELD_KIND_I64;
    e[2].value.value.i64 = count;
  };
  fill(d1, "resize", "rejected", 2);
  fill(d2, "resize.retry.1", "expired", 2);
  amqp_field_value_t arr[2];
  arr[0].kind = AMQP_FIELD_KIND_TABLE;
  arr[0].value.table = amqp_table_t{3, d1};
  arr[1].kind = AMQP_FIELD_KIND_TABLE;
  arr[1].value.table = amqp_table_t{3, d2};
  amqp_table_entry_t top[2];
  top[0].key = amqp_cstring_bytes("x-death");
  top[0].value.kind = AMQP_FIELD_KIND_ARRAY;
  top[0].value.value.array = amqp_array_t{2, arr};
  top[1].key = amqp_cstring_bytes("x-first-death-queue");
  top[1].value.kind = AMQP_FIELD_KIND_UTF8;
  top[1].value.value.bytes = amqp_cstring_bytes("resize");
  WireTable w(amqp_table_t{2, top});

  EXPECT_EQ(XDeathCount(w.table(), "resize", "rejected"), 2);
  EXPECT_EQ(XDeathCount(w.table(), "", "expired"), 2);
  EXPECT_EQ(XDeathCount(w.table(), "", ""), 4);
  EXPECT_EQ(XDeathCount(w.table(), "watermark", ""), 0);
  EXPECT_EQ(AttemptOf(w.table(), "resize"), 3);
  auto flat = DecodeHeaders(w.table());
  EXPECT_EQ(flat.count("x-death"), 0u);
  EXPECT_EQ(flat.at("x-first-death-queue"), "resize");
}

TEST(Headers, EmptyBuilderGivesEmptyTable) {
  TableBuilder b;
  EXPECT_TRUE(b.empty());
  amqp_table_t t = b.table();
  EXPECT_EQ(t.num_entries, 0);
}

}  // namespace
}  // namespace photo::broker::amqp
