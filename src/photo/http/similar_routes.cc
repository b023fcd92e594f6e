// GET /images/{id}/similar and POST /search/similar: the images whose
// perceptual hash is within max_distance bits of an image's or of an
// uploaded file's, nearest first (similar/store_index.h keeps the hashes in
// memory, in step with the store). The uploaded file is hashed in memory and
// stored nowhere.
#include <charconv>
#include <memory>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "photo/core/ids.h"
#include "photo/detect/checks.h"
#include "photo/detect/image_io.h"
#include "photo/http/auth.h"
#include "photo/http/multipart.h"
#include "photo/http/responses.h"
#include "photo/http/routes.h"
#include "photo/image/probe.h"
#include "photo/similar/store_index.h"

namespace photo::http {
namespace {

constexpr int kMaxDistance = 32;
constexpr int kDefaultLimit = 20;
constexpr int kMaxLimit = 100;
// The detect stage hashes the clean rendition nearest 1280 px; an upload is
// hashed at the same size (pHash barely moves with size, but decoding a big
// file shrunk is cheaper).
constexpr int kHashLongEdge = 1280;

struct Query {
  int max_distance = similar::kDefaultDuplicateDistance;
  int limit = kDefaultLimit;
};

Result<int> IntParam(const Request& req, std::string_view name, int lo, int hi, int fallback) {
  std::optional<std::string> v = req.QueryValue(name);
  if (!v) return fallback;
  int n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < lo || n > hi) {
    return InvalidArgumentError("bad_" + std::string(name), std::string(name) + " must be an integer " +
                                                                std::to_string(lo) + ".." + std::to_string(hi));
  }
  return n;
}

Result<Query> ParseQuery(const Request& req) {
  Query q;
  ASSIGN_OR_RETURN(q.max_distance, IntParam(req, "max_distance", 0, kMaxDistance, q.max_distance));
  ASSIGN_OR_RETURN(q.limit, IntParam(req, "limit", 1, kMaxLimit, q.limit));
  return q;
}

std::string HexHash(std::uint64_t h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kHex[h & 0xf];
  return out;
}

// The index is built on first use (the first request reads the store), so
// registering the routes touches nothing.
class SimilarService {
 public:
  explicit SimilarService(ApiContext& ctx) : ctx_(ctx) {}

  Response Answer(std::uint64_t hash, const Query& q, std::string_view exclude) {
    similar::StoreHashIndex& index = Index();
    Result<std::vector<similar::Match>> found = index.Similar(hash, q.max_distance, static_cast<size_t>(q.limit), exclude);
    if (!found) return Failure(found.error());
    nlohmann::json items = nlohmann::json::array();
    for (const similar::Match& m : *found) {
      items.push_back({{"id", m.id}, {"distance", m.distance}, {"status_url", "/status/" + m.id}});
    }
    Response res = JsonResponse(200, {{"phash", HexHash(hash)}, {"max_distance", q.max_distance}, {"similar", items}});
    res.headers.Set("Cache-Control", "no-store");
    return res;
  }

  Response Failure(const Status& s) const { return StatusResponse(s, HttpStatusFor(s), ctx_.config.retry_after_s); }

  ApiContext& ctx() { return ctx_; }

 private:
  similar::StoreHashIndex& Index() {
    std::call_once(once_, [&] { index_ = std::make_unique<similar::StoreHashIndex>(*ctx_.store); });
    return *index_;
  }

  ApiContext& ctx_;
  std::once_flag once_;
  std::unique_ptr<similar::StoreHashIndex> index_;
};

Response GetSimilar(SimilarService& svc, const Request& req) {
  const std::string id(req.Param("id"));
  if (!IsValidImageId(id)) return ErrorResponse(404, "not_found", "no image with this id");
  Result<Query> q = ParseQuery(req);
  if (!q) return ErrorResponse(400, q.error().reason(), q.error().message());
  Result<store::ImageRecord> rec = svc.ctx().store->Get(id);
  if (!rec) {
    if (rec.error().code() == StatusCode::kNotFound) return ErrorResponse(404, "not_found", "no image with this id");
    return svc.Failure(rec.error());
  }
  const auto& d = rec->detections;
  if (!d || std::find(d->checks_ran.begin(), d->checks_ran.end(), "phash") == d->checks_ran.end()) {
    return ErrorResponse(409, "not_analysed", "the image has no perceptual hash yet (its detect stage has not run)");
  }
  return svc.Answer(d->phash, *q, id);
}

// POST /search/similar: the `file` part is kept in memory (up to the upload
// size limit) and hashed like an upload's clean rendition.
class SearchReader : public BodyReader, public MultipartHandler {
 public:
  SearchReader(SimilarService& svc, const Request& req) : svc_(svc), query_(ParseQuery(req)) {
    const ApiConfig& c = svc.ctx().config;
    authorized_ = c.api_token.empty() || HasToken(req, c.api_token);
    if (!authorized_ || !query_.ok()) return;
    Result<std::string> boundary = MultipartBoundary(req.headers.Get("Content-Type"));
    if (!boundary) {
      error_ = boundary.error();
      return;
    }
    parser_.emplace(*boundary, this);
  }

  void OnData(std::string_view data) override {
    if (!parser_ || !error_.ok()) return;
    if (Status s = parser_->Feed(data); !s.ok()) {
      error_ = s;
      file_.clear();
      file_.shrink_to_fit();
    }
  }

  Response Finish(const Status& body) override {
    const ApiConfig& c = svc_.ctx().config;
    if (!body.ok()) {
      if (body.reason() == "too_large") {
        return svc_.Failure(ResourceExhaustedError("too_large", "the request body exceeds " +
                                                                    std::to_string(c.max_body_bytes()) + " bytes"));
      }
      return svc_.Failure(InvalidArgumentError("malformed_multipart", "the multipart/form-data body could not be parsed"));
    }
    if (!authorized_) return UnauthorizedResponse("POST /search/similar needs 'Authorization: Bearer <token>'");
    if (!query_) return ErrorResponse(400, query_.error().reason(), query_.error().message());
    if (!error_.ok()) return svc_.Failure(error_);
    if (Status s = parser_->Finish(); !s.ok()) return svc_.Failure(s);
    if (!saw_file_) return svc_.Failure(InvalidArgumentError("missing_file", "no form field named 'file'"));
    // The same checks as an upload: type by the bytes, size and pixel limits
    // before any pixel is decoded.
    if (Result<image::ProbeInfo> info = image::ProbeBuffer(file_, c.limits); !info) return svc_.Failure(info.error());
    Result<cv::Mat> pixels = detect::DecodeBgrBuffer(file_, kHashLongEdge);
    if (!pixels) return svc_.Failure(pixels.error());
    Result<std::uint64_t> hash = detect::PerceptualHash(*pixels);
    if (!hash) return svc_.Failure(hash.error());
    return svc_.Answer(*hash, *query_, {});
  }

  Status OnPartBegin(const PartHeader& part) override {
    in_file_ = part.name == "file";
    if (!in_file_) return Status::Ok();
    if (saw_file_) return InvalidArgumentError("too_many_files", "more than one 'file' part; send one image");
    saw_file_ = true;
    return Status::Ok();
  }
  Status OnPartData(std::string_view data) override {
    if (!in_file_) return Status::Ok();
    if (file_.size() + data.size() > svc_.ctx().config.limits.max_bytes) {
      return ResourceExhaustedError("too_large",
                                    "the file exceeds " + std::to_string(svc_.ctx().config.limits.max_bytes) + " bytes");
    }
    file_.append(data);
    return Status::Ok();
  }
  Status OnPartEnd() override {
    in_file_ = false;
    return Status::Ok();
  }

 private:
  SimilarService& svc_;
  Result<Query> query_;
  bool authorized_ = false;
  std::optional<MultipartParser> parser_;
  Status error_;
  bool in_file_ = false;
  bool saw_file_ = false;
  std::string file_;
};

}  // namespace

Status RegisterSimilarRoutes(Router& router, ApiContext& ctx) {
  // Lives as long as the process's routes (the router keeps the handlers).
  auto svc = std::make_shared<SimilarService>(ctx);
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/images/{id}/similar",
                              .handler = [svc](const Request& req) { return GetSimilar(*svc, req); },
                              .metric_route = "/images/{id}/similar"}));
  return router.Add({.method = "POST",
                     .pattern = "/search/similar",
                     .handler = {},
                     .body_handler = [svc](const Request& req) -> std::unique_ptr<BodyReader> {
                       return std::make_unique<SearchReader>(*svc, req);
                     },
                     .inline_io = false,
                     .max_body_bytes = ctx.config.max_body_bytes(),
                     .metric_route = "/search/similar"});
}

}  // namespace photo::http
