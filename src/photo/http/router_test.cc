#include "photo/http/router.h"

#include <gtest/gtest.h>

namespace photo::http {
namespace {

Handler Ok() {
  return [](const Request&) { return Response{}; };
}

TEST(RouterTest, MatchesLiteralsParamsAndRest) {
  Router r;
  ASSERT_TRUE(r.Add({.method = "GET", .pattern = "/images/{id}/{rendition}", .handler = Ok()}).ok());
  ASSERT_TRUE(r.Add({.method = "DELETE", .pattern = "/images/{id}", .handler = Ok()}).ok());
  ASSERT_TRUE(r.Add({.method = "POST", .pattern = "/upload/", .handler = Ok()}).ok());
  ASSERT_TRUE(r.Add({.method = "GET", .pattern = "/static/{path...}", .handler = Ok()}).ok());
  ASSERT_TRUE(r.Add({.method = "GET", .pattern = "/", .handler = Ok()}).ok());

  auto m = r.Find("GET", "/images/ab%2Fc/thumb");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>("id", "ab/c")));
  EXPECT_EQ(m.params[1].second, "thumb");
  EXPECT_NE(r.Find("HEAD", "/images/a/b").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/images/a").route, nullptr);
  EXPECT_EQ(r.Find("GET", "/images/a").allow, "DELETE");
  EXPECT_EQ(r.Find("GET", "/images//b").route, nullptr);  // empty segment is no id
  EXPECT_EQ(r.Find("POST", "/images/a/b").allow, "GET, HEAD");
  EXPECT_NE(r.Find("POST", "/upload/").route, nullptr);
  EXPECT_EQ(r.Find("POST", "/upload").route, nullptr);
  EXPECT_EQ(r.Find("POST", "/upload").allow, "");
  auto s = r.Find("GET", "/static/css/a%20b.css");
  ASSERT_NE(s.route, nullptr);
  EXPECT_EQ(s.params[0].second, "css/a b.css");
  EXPECT_NE(r.Find("GET", "/").route, nullptr);
  EXPECT_EQ(r.Find("GET", "").route, nullptr);
  EXPECT_EQ(r.List().front(), "GET /images/{id}/{rendition}");
}

TEST(RouterTest, MostSpecificRouteWins) {
  Router r;
  ASSERT_TRUE(r.Add({.method = "GET", .pattern = "/images/{id}/{rendition}", .handler = Ok(), .body_handler = {},
                     .inline_io = false, .max_body_bytes = 1, .metric_route = "generic"})
                  .ok());
  ASSERT_TRUE(r.Add({.method = "GET", .pattern = "/images/{id}/similar", .handler = Ok(), .body_handler = {},
                     .inline_io = false, .max_body_bytes = 1, .metric_route = "similar"})
                  .ok());
  EXPECT_EQ(r.Find("GET", "/images/a/similar").route->metric_route, "similar");
  EXPECT_EQ(r.Find("GET", "/images/a/thumb").route->metric_route, "generic");
}

TEST(RouterTest, RefusesBadRoutes) {
  Router r;
  EXPECT_FALSE(r.Add({.method = "GET", .pattern = "nope", .handler = Ok()}).ok());
  EXPECT_FALSE(r.Add({.method = "GET", .pattern = "/a"}).ok());  // no handler
  EXPECT_FALSE(r.Add({.method = "GET", .pattern = "/{rest...}/x", .handler = Ok()}).ok());
  ASSERT_TRUE(r.Add({.method = "GET", .pattern = "/a", .handler = Ok()}).ok());
  EXPECT_FALSE(r.Add({.method = "GET", .pattern = "/a", .handler = Ok()}).ok());
}

TEST(RouterTest, QueryValuesAreDecoded) {
  Request req;
  req.query = "limit=10&cursor=a%2Bb&status=&q=x+y&flag";
  EXPECT_EQ(req.QueryValue("limit"), "10");
  EXPECT_EQ(req.QueryValue("cursor"), "a+b");
  EXPECT_EQ(req.QueryValue("status"), "");
  EXPECT_EQ(req.QueryValue("q"), "x y");
  EXPECT_EQ(req.QueryValue("flag"), "");
  EXPECT_EQ(req.QueryValue("none"), std::nullopt);
}

}  // namespace
}  // namespace photo::http
