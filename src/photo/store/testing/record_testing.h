// Test helpers: a record with every field set, and a field-by-field equality
// check that does not go through the codec under test.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "photo/store/image_record.h"

namespace photo::store::testing {

// Every field of ImageRecord (and of what it contains) set to a value that
// differs from its default, with awkward doubles and strings.
inline ImageRecord FullRecord(const std::string& id) {
  ImageRecord r = NewRecord(id, "Holiday \"pic\" é.jpg", 1764285364123);
  r.status = "completed";
  r.content_status = "review";
  r.updated_at_ms = 1764285365456;
  r.completed_at_ms = 1764285366789;
  r.original_path = "images/" + id.substr(0, 2) + "/" + id + "/original";
  r.source_format = "png";
  r.width = 4032;
  r.height = 3024;
  r.bytes = 5'123'456'789ull;  // > 4 GiB: no 32-bit truncation anywhere
  for (auto& s : r.stages) {
    s.state = "completed";
    s.attempts = 3;
    s.redeliveries = 1;
    s.started_at_ms = 1764285364200;
    s.finished_at_ms = 1764285364999;
    s.duration_ms = 0.1 + 0.2;  // not exactly representable: tests exact round trip
    s.cpu_ms = 1e-300;
    s.error = ErrorInfo{s.stage, "store_unavailable", "first try: \n\t\"locked\" \u00fc"};
  }
  r.renditions.push_back(
      {"thumb", "images/x/thumb.webp", 320, 240, 12345, image::OutputFormat::kWebp, false});
  r.renditions.push_back(
      {"large", "images/x/large.jpg", 2560, 1920, 987654, image::OutputFormat::kJpeg, true});
  r.renditions.push_back(
      {"medium", "images/x/medium.avif", 1280, 960, 55555, image::OutputFormat::kAvif, true});
  r.renditions.push_back(
      {"lossless", "images/x/lossless.png", 640, 480, 77777, image::OutputFormat::kPng, false});
  r.renditions.push_back(
      {"square", "images/x/square.jpg", 320, 320, 4321, image::OutputFormat::kJpeg, false});
  image::Detections d;
  d.face_count = 2;
  d.faces = {{10, 20, 30, 40, 0.875f}, {-1, 0, 5, 6, 0.1f}};
  d.analysed_width = 800;
  d.analysed_height = 600;
  d.face_model = "blazeface-back-256";
  d.phash = 0xfedcba9876543210ull;  // top bit set: must survive as unsigned
  d.sharpness = 123.456789012345678;
  d.blurry = true;
  d.dominant_colors = {{"#a1b2c3", 0.5}, {"#000000", 1.0 / 3.0}};
  d.exif = {"Canon EOS 5D", "2019:03:04 10:11:12", true, 6};
  d.labels = {{"beach", 0.9}, {"dog", 2.5e-5}};
  d.content_status = "review";
  d.reasons = {"faces", "label:beach"};
  d.checks_ran = {"faces", "phash", "sharpness", "classifier"};
  d.duplicates = {{"20261205T101010Z-abc", 0}, {"20261204T101010Z-def", 7}};
  d.crops = {{"square", 100, 0, 600, 600, "faces", 2}};
  r.detections = d;
  r.error = ErrorInfo{"detect", "corrupt_image", "bad huffman table"};
  return r;
}

// gtest's EXPECT_EQ on doubles is exact (==); NaN needs its own case.
inline void ExpectSameDouble(double a, double b, const char* what) {
  if (std::isnan(a) || std::isnan(b)) {
    EXPECT_TRUE(std::isnan(a) && std::isnan(b)) << what;
  } else {
    EXPECT_EQ(a, b) << what;
  }
}

inline void ExpectSameError(const std::optional<ErrorInfo>& a, const std::optional<ErrorInfo>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->stage, b->stage);
  EXPECT_EQ(a->code, b->code);
  EXPECT_EQ(a->message, b->message);
}

// Compares every field; `ignore_updated_at` for records that went through
// StatusStore::Update (which sets it).
inline void ExpectSameRecord(const ImageRecord& a, const ImageRecord& b,
                             bool ignore_updated_at = false) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.filename, b.filename);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.content_status, b.content_status);
  EXPECT_EQ(a.created_at_ms, b.created_at_ms);
  if (!ignore_updated_at) {
    EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
  }
  EXPECT_EQ(a.completed_at_ms, b.completed_at_ms);
  EXPECT_EQ(a.original_path, b.original_path);
  EXPECT_EQ(a.source_format, b.source_format);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.bytes, b.bytes);
  ASSERT_EQ(a.stages.size(), b.stages.size());
  for (std::size_t i = 0; i < a.stages.size(); ++i) {
    const auto &x = a.stages[i], &y = b.stages[i];
    EXPECT_EQ(x.stage, y.stage);
    EXPECT_EQ(x.state, y.state);
    EXPECT_EQ(x.attempts, y.attempts);
    EXPECT_EQ(x.redeliveries, y.redeliveries);
    EXPECT_EQ(x.started_at_ms, y.started_at_ms);
    EXPECT_EQ(x.finished_at_ms, y.finished_at_ms);
    ExpectSameDouble(x.duration_ms, y.duration_ms, "duration_ms");
    ExpectSameDouble(x.cpu_ms, y.cpu_ms, "cpu_ms");
    ExpectSameError(x.error, y.error);
  }
  ASSERT_EQ(a.renditions.size(), b.renditions.size());
  for (std::size_t i = 0; i < a.renditions.size(); ++i) {
    const auto &x = a.renditions[i], &y = b.renditions[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.path, y.path);
    EXPECT_EQ(x.width, y.width);
    EXPECT_EQ(x.height, y.height);
    EXPECT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(x.format, y.format);
    EXPECT_EQ(x.watermarked, y.watermarked);
  }
  ASSERT_EQ(a.detections.has_value(), b.detections.has_value());
  if (a.detections) {
    const auto &x = *a.detections, &y = *b.detections;
    EXPECT_EQ(x.face_count, y.face_count);
    ASSERT_EQ(x.faces.size(), y.faces.size());
    for (std::size_t i = 0; i < x.faces.size(); ++i) {
      EXPECT_EQ(x.faces[i].x, y.faces[i].x);
      EXPECT_EQ(x.faces[i].y, y.faces[i].y);
      EXPECT_EQ(x.faces[i].width, y.faces[i].width);
      EXPECT_EQ(x.faces[i].height, y.faces[i].height);
      ExpectSameDouble(x.faces[i].score, y.faces[i].score, "face score");
    }
    EXPECT_EQ(x.analysed_width, y.analysed_width);
    EXPECT_EQ(x.analysed_height, y.analysed_height);
    EXPECT_EQ(x.face_model, y.face_model);
    EXPECT_EQ(x.phash, y.phash);
    ExpectSameDouble(x.sharpness, y.sharpness, "sharpness");
    EXPECT_EQ(x.blurry, y.blurry);
    ASSERT_EQ(x.dominant_colors.size(), y.dominant_colors.size());
    for (std::size_t i = 0; i < x.dominant_colors.size(); ++i) {
      EXPECT_EQ(x.dominant_colors[i].hex, y.dominant_colors[i].hex);
      ExpectSameDouble(x.dominant_colors[i].share, y.dominant_colors[i].share, "share");
    }
    EXPECT_EQ(x.exif.camera, y.exif.camera);
    EXPECT_EQ(x.exif.captured_at, y.exif.captured_at);
    EXPECT_EQ(x.exif.gps_present, y.exif.gps_present);
    EXPECT_EQ(x.exif.orientation, y.exif.orientation);
    EXPECT_EQ(x.duplicates, y.duplicates);
    EXPECT_EQ(x.crops, y.crops);
    ASSERT_EQ(x.labels.size(), y.labels.size());
    for (std::size_t i = 0; i < x.labels.size(); ++i) {
      EXPECT_EQ(x.labels[i].label, y.labels[i].label);
      ExpectSameDouble(x.labels[i].score, y.labels[i].score, "label score");
    }
    EXPECT_EQ(x.content_status, y.content_status);
    EXPECT_EQ(x.reasons, y.reasons);
    EXPECT_EQ(x.checks_ran, y.checks_ran);
  }
  ExpectSameError(a.error, b.error);
}

}  // namespace photo::store::testing
