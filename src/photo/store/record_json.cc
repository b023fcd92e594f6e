#include "photo/store/record_json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <utility>

#include "photo/core/ids.h"

namespace photo::store {
namespace {

using nlohmann::json;

constexpr int kStorageVersion = 1;

json OptTime(const std::optional<std::int64_t>& ms) {
  return ms ? json(FormatIso8601(*ms)) : json(nullptr);
}

json ErrorJson(const std::optional<ErrorInfo>& e) {
  if (!e) return nullptr;
  return {{"stage", e->stage}, {"code", e->code}, {"message", e->message}};
}

std::string HexPhash(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// "2019:03:04 10:11:12" -> "2019-03-04T10:11:12"; anything else is passed on
// unchanged, since the camera wrote it and we have nothing better.
std::string ExifTimeToIso(const std::string& s) {
  if (s.size() != 19 || s[4] != ':' || s[7] != ':' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
    return s;
  std::string out = s;
  out[4] = '-';
  out[7] = '-';
  out[10] = 'T';
  return out;
}

json RenditionJson(const std::string& id, const std::string& name, int width, int height,
                   std::uint64_t bytes, const std::string& format, bool watermarked) {
  return {{"url", "/images/" + id + "/" + name},
          {"width", width},
          {"height", height},
          {"bytes", bytes},
          {"format", format},
          {"watermarked", watermarked}};
}

json CropJson(const image::CropBox& c) {
  return {{"x", c.x},           {"y", c.y},           {"width", c.width},
          {"height", c.height}, {"method", c.method}, {"faces", c.faces}};
}

json CropsJson(const std::vector<image::CropBox>& crops) {
  json out = json::array();
  for (const auto& c : crops) {
    out.push_back(CropJson(c));
    out.back()["rendition"] = c.rendition;
  }
  return out;
}

json DuplicatesJson(const std::vector<image::Duplicate>& dups) {
  json out = json::array();
  for (const auto& d : dups) out.push_back({{"id", d.id}, {"distance", d.distance}});
  return out;
}

// --- storage helpers -------------------------------------------------------

// JSON has no NaN/inf; keep them as strings so the round trip stays exact.
json Dbl(double v) {
  if (std::isfinite(v)) return v;
  if (std::isnan(v)) return "nan";
  return v > 0 ? "inf" : "-inf";
}

double GetDbl(const json& j) {
  if (j.is_number()) return j.get<double>();
  const auto& s = j.get_ref<const std::string&>();
  if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (s == "inf") return std::numeric_limits<double>::infinity();
  if (s == "-inf") return -std::numeric_limits<double>::infinity();
  throw std::runtime_error("bad double: " + s);
}

template <typename T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

template <typename T>
std::optional<T> GetOpt(const json& j, const char* key) {
  const json& v = j.at(key);
  if (v.is_null()) return std::nullopt;
  return v.get<T>();
}

json StoreError(const std::optional<ErrorInfo>& e) { return ErrorJson(e); }

std::optional<ErrorInfo> LoadError(const json& j) {
  if (j.is_null()) return std::nullopt;
  return ErrorInfo{j.at("stage").get<std::string>(), j.at("code").get<std::string>(),
                   j.at("message").get<std::string>()};
}

image::OutputFormat ParseOutputFormat(const std::string& s) {
  for (auto f : {image::OutputFormat::kJpeg, image::OutputFormat::kWebp, image::OutputFormat::kAvif,
                 image::OutputFormat::kPng})
    if (s == image::OutputFormatName(f)) return f;
  throw std::runtime_error("bad output format: " + s);
}

json StoreDetections(const image::Detections& d) {
  json faces = json::array();
  for (const auto& b : d.faces)
    faces.push_back({{"x", b.x},
                     {"y", b.y},
                     {"w", b.width},
                     {"h", b.height},
                     {"score", Dbl(static_cast<double>(b.score))}});
  json colors = json::array();
  for (const auto& c : d.dominant_colors)
    colors.push_back({{"hex", c.hex}, {"share", Dbl(c.share)}});
  json labels = json::array();
  for (const auto& l : d.labels) labels.push_back({{"label", l.label}, {"score", Dbl(l.score)}});
  return {{"face_count", d.face_count},
          {"faces", std::move(faces)},
          {"analysed_width", d.analysed_width},
          {"analysed_height", d.analysed_height},
          {"face_model", d.face_model},
          {"phash", d.phash},
          {"sharpness", Dbl(d.sharpness)},
          {"blurry", d.blurry},
          {"dominant_colors", std::move(colors)},
          {"exif",
           {{"camera", d.exif.camera},
            {"captured_at", d.exif.captured_at},
            {"gps_present", d.exif.gps_present},
            {"orientation", d.exif.orientation}}},
          {"labels", std::move(labels)},
          {"content_status", d.content_status},
          {"reasons", d.reasons},
          {"checks_ran", d.checks_ran},
          {"duplicates", DuplicatesJson(d.duplicates)},
          {"crops", CropsJson(d.crops)}};
}

image::Detections LoadDetections(const json& j) {
  image::Detections d;
  d.face_count = j.at("face_count").get<int>();
  for (const auto& b : j.at("faces")) {
    image::Box box;
    box.x = b.at("x").get<int>();
    box.y = b.at("y").get<int>();
    box.width = b.at("w").get<int>();
    box.height = b.at("h").get<int>();
    box.score = static_cast<float>(GetDbl(b.at("score")));
    d.faces.push_back(box);
  }
  d.analysed_width = j.at("analysed_width").get<int>();
  d.analysed_height = j.at("analysed_height").get<int>();
  d.face_model = j.at("face_model").get<std::string>();
  d.phash = j.at("phash").get<std::uint64_t>();
  d.sharpness = GetDbl(j.at("sharpness"));
  d.blurry = j.at("blurry").get<bool>();
  for (const auto& c : j.at("dominant_colors"))
    d.dominant_colors.push_back({c.at("hex").get<std::string>(), GetDbl(c.at("share"))});
  const json& e = j.at("exif");
  d.exif.camera = e.at("camera").get<std::string>();
  d.exif.captured_at = e.at("captured_at").get<std::string>();
  d.exif.gps_present = e.at("gps_present").get<bool>();
  d.exif.orientation = e.at("orientation").get<int>();
  for (const auto& l : j.at("labels"))
    d.labels.push_back({l.at("label").get<std::string>(), GetDbl(l.at("score"))});
  d.content_status = j.at("content_status").get<std::string>();
  d.reasons = j.at("reasons").get<std::vector<std::string>>();
  d.checks_ran = j.at("checks_ran").get<std::vector<std::string>>();
  if (j.contains("duplicates")) {  // absent in records stored before issue 13
    for (const auto& x : j.at("duplicates"))
      d.duplicates.push_back({x.at("id").get<std::string>(), x.at("distance").get<int>()});
  }
  if (j.contains("crops")) {
    for (const auto& x : j.at("crops")) {
      d.crops.push_back({x.at("rendition").get<std::string>(), x.at("x").get<int>(),
                         x.at("y").get<int>(), x.at("width").get<int>(), x.at("height").get<int>(),
                         x.at("method").get<std::string>(), x.at("faces").get<int>()});
    }
  }
  return d;
}

std::string Dump(const json& j) {
  // Error messages may quote library output that is not valid UTF-8; replace
  // such bytes instead of failing the whole write.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string MainRenditionPath(const ImageRecord& r) {
  if (const auto* large = r.FindRendition("large")) return large->path;
  const image::Rendition* best = nullptr;
  const image::Rendition* best_marked = nullptr;
  auto area = [](const image::Rendition* x) {
    return static_cast<std::int64_t>(x->width) * x->height;
  };
  for (const auto& rend : r.renditions) {
    if (!best || area(&rend) > area(best)) best = &rend;
    if (rend.watermarked && (!best_marked || area(&rend) > area(best_marked))) best_marked = &rend;
  }
  if (best_marked) return best_marked->path;
  if (best) return best->path;
  return r.original_path;
}

json DetectionsToJson(const image::Detections& d) {
  json boxes = json::array();
  for (const auto& b : d.faces)
    boxes.push_back({{"x", b.x},
                     {"y", b.y},
                     {"width", b.width},
                     {"height", b.height},
                     {"score", static_cast<double>(b.score)}});
  json colors = json::array();
  for (const auto& c : d.dominant_colors) colors.push_back({{"hex", c.hex}, {"share", c.share}});
  json labels = json::array();
  for (const auto& l : d.labels) labels.push_back({{"label", l.label}, {"score", l.score}});
  return {
      {"faces",
       {{"count", d.face_count},
        {"boxes", std::move(boxes)},
        {"model", d.face_model},
        {"analysed_width", d.analysed_width},
        {"analysed_height", d.analysed_height}}},
      {"phash", HexPhash(d.phash)},
      {"sharpness", d.sharpness},
      {"blurry", d.blurry},
      {"dominant_colors", std::move(colors)},
      {"exif",
       {{"camera", d.exif.camera.empty() ? json(nullptr) : json(d.exif.camera)},
        {"captured_at",
         d.exif.captured_at.empty() ? json(nullptr) : json(ExifTimeToIso(d.exif.captured_at))},
        {"gps_present", d.exif.gps_present},
        {"orientation", d.exif.orientation}}},
      {"labels", std::move(labels)},
      {"content",
       {{"status", d.content_status}, {"reasons", d.reasons}, {"checks_ran", d.checks_ran}}},
      {"duplicates", DuplicatesJson(d.duplicates)},
      {"crops", CropsJson(d.crops)},
  };
}

json RenditionsToJson(const ImageRecord& r) {
  json out = json::object();
  if (!r.original_path.empty())
    out["original"] =
        RenditionJson(r.id, "original", r.width, r.height, r.bytes, r.source_format, false);
  for (const auto& rend : r.renditions) {
    out[rend.name] = RenditionJson(r.id, rend.name, rend.width, rend.height, rend.bytes,
                                   image::OutputFormatName(rend.format), rend.watermarked);
  }
  // A face-aware crop says where it was cut (the detect stage made it).
  if (r.detections) {
    for (const auto& c : r.detections->crops) {
      if (out.contains(c.rendition)) out[c.rendition]["crop"] = CropJson(c);
    }
  }
  return out;
}

json RecordToApiJson(const ImageRecord& r) {
  json stages = json::object();
  for (const auto& s : r.stages)
    stages[s.stage] = {{"state", s.state},
                       {"attempts", s.attempts},
                       {"redeliveries", s.redeliveries},
                       {"started_at", OptTime(s.started_at_ms)},
                       {"finished_at", OptTime(s.finished_at_ms)},
                       {"duration_ms", s.duration_ms},
                       {"cpu_ms", s.cpu_ms},
                       {"error", ErrorJson(s.error)}};
  std::string path = MainRenditionPath(r);
  return {
      {"id", r.id},
      {"filename", r.filename},
      {"status", r.status},
      {"content_status", r.content_status ? json(*r.content_status) : json(nullptr)},
      {"created_at", FormatIso8601(r.created_at_ms)},
      {"updated_at", FormatIso8601(r.updated_at_ms)},
      {"completed_at", OptTime(r.completed_at_ms)},
      {"stages", std::move(stages)},
      {"renditions", RenditionsToJson(r)},
      {"detections", r.detections ? DetectionsToJson(*r.detections) : json(nullptr)},
      {"path", path.empty() ? json(nullptr) : json(path)},
      {"error", ErrorJson(r.error)},
  };
}

std::string RecordToStorageJson(const ImageRecord& r) {
  json stages = json::array();
  for (const auto& s : r.stages)
    stages.push_back({{"stage", s.stage},
                      {"state", s.state},
                      {"attempts", s.attempts},
                      {"redeliveries", s.redeliveries},
                      {"started_at_ms", Opt(s.started_at_ms)},
                      {"finished_at_ms", Opt(s.finished_at_ms)},
                      {"duration_ms", Dbl(s.duration_ms)},
                      {"cpu_ms", Dbl(s.cpu_ms)},
                      {"error", StoreError(s.error)}});
  json renditions = json::array();
  for (const auto& x : r.renditions) {
    renditions.push_back({{"name", x.name},
                          {"path", x.path},
                          {"width", x.width},
                          {"height", x.height},
                          {"bytes", x.bytes},
                          {"format", image::OutputFormatName(x.format)},
                          {"watermarked", x.watermarked}});
  }
  json j = {
      {"v", kStorageVersion},
      {"id", r.id},
      {"filename", r.filename},
      {"status", r.status},
      {"content_status", Opt(r.content_status)},
      {"created_at_ms", r.created_at_ms},
      {"updated_at_ms", r.updated_at_ms},
      {"completed_at_ms", Opt(r.completed_at_ms)},
      {"original_path", r.original_path},
      {"source_format", r.source_format},
      {"width", r.width},
      {"height", r.height},
      {"bytes", r.bytes},
      {"stages", std::move(stages)},
      {"renditions", std::move(renditions)},
      {"detections", r.detections ? StoreDetections(*r.detections) : json(nullptr)},
      {"error", StoreError(r.error)},
  };
  return Dump(j);
}

Result<ImageRecord> RecordFromStorageJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return InternalError("corrupt_record", "stored record is not a JSON object");
  try {
    if (j.at("v").get<int>() != kStorageVersion)
      return InternalError("corrupt_record", "unknown stored record version " + j.at("v").dump());
    ImageRecord r;
    r.id = j.at("id").get<std::string>();
    r.filename = j.at("filename").get<std::string>();
    r.status = j.at("status").get<std::string>();
    r.content_status = GetOpt<std::string>(j, "content_status");
    r.created_at_ms = j.at("created_at_ms").get<std::int64_t>();
    r.updated_at_ms = j.at("updated_at_ms").get<std::int64_t>();
    r.completed_at_ms = GetOpt<std::int64_t>(j, "completed_at_ms");
    r.original_path = j.at("original_path").get<std::string>();
    r.source_format = j.at("source_format").get<std::string>();
    r.width = j.at("width").get<int>();
    r.height = j.at("height").get<int>();
    r.bytes = j.at("bytes").get<std::uint64_t>();
    for (const auto& s : j.at("stages")) {
      StageState st;
      st.stage = s.at("stage").get<std::string>();
      st.state = s.at("state").get<std::string>();
      st.attempts = s.at("attempts").get<int>();
      st.redeliveries = s.at("redeliveries").get<int>();
      st.started_at_ms = GetOpt<std::int64_t>(s, "started_at_ms");
      st.finished_at_ms = GetOpt<std::int64_t>(s, "finished_at_ms");
      st.duration_ms = GetDbl(s.at("duration_ms"));
      st.cpu_ms = GetDbl(s.at("cpu_ms"));
      st.error = LoadError(s.at("error"));
      r.stages.push_back(std::move(st));
    }
    for (const auto& x : j.at("renditions")) {
      image::Rendition rend;
      rend.name = x.at("name").get<std::string>();
      rend.path = x.at("path").get<std::string>();
      rend.width = x.at("width").get<int>();
      rend.height = x.at("height").get<int>();
      rend.bytes = x.at("bytes").get<std::uint64_t>();
      rend.format = ParseOutputFormat(x.at("format").get<std::string>());
      rend.watermarked = x.at("watermarked").get<bool>();
      r.renditions.push_back(std::move(rend));
    }
    if (!j.at("detections").is_null()) r.detections = LoadDetections(j.at("detections"));
    r.error = LoadError(j.at("error"));
    return r;
  } catch (const std::exception& e) {  // json::exception or ours
    return InternalError("corrupt_record", std::string("stored record: ") + e.what());
  }
}

}  // namespace photo::store
