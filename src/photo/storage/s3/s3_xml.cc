#include "photo/storage/s3/s3_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <memory>

namespace photo::storage {
namespace {

using Doc = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

Doc Parse(std::string_view xml) {
  return Doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "s3.xml", nullptr,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
             &xmlFreeDoc);
}

bool Named(const xmlNode* n, std::string_view name) {
  return n->type == XML_ELEMENT_NODE &&
         std::string_view(reinterpret_cast<const char*>(n->name)) == name;
}

std::string Text(const xmlNode* n) {
  std::unique_ptr<xmlChar, void (*)(void*)> t(xmlNodeGetContent(n), xmlFree);
  return t ? std::string(reinterpret_cast<const char*>(t.get())) : std::string();
}

const xmlNode* FindFirst(const xmlNode* n, std::string_view name) {
  for (; n != nullptr; n = n->next) {
    if (Named(n, name)) return n;
    if (const xmlNode* c = FindFirst(n->children, name)) return c;
  }
  return nullptr;
}

const xmlNode* Child(const xmlNode* n, std::string_view name) {
  for (const xmlNode* c = n->children; c != nullptr; c = c->next)
    if (Named(c, name)) return c;
  return nullptr;
}

}  // namespace

std::int64_t ParseIso8601Ms(std::string_view t) {
  // "2026-12-05T20:28:34.027Z"
  std::tm tm{};
  int ms = 0;
  const std::string text(t);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

std::optional<S3Error> ParseS3Error(std::string_view xml) {
  Doc doc = Parse(xml);
  if (!doc) return std::nullopt;
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || !Named(root, "Error")) return std::nullopt;
  S3Error e;
  if (const xmlNode* c = Child(root, "Code")) e.code = Text(c);
  if (const xmlNode* m = Child(root, "Message")) e.message = Text(m);
  return e;
}

std::optional<std::string> FirstXmlText(std::string_view xml, std::string_view name) {
  Doc doc = Parse(xml);
  if (!doc) return std::nullopt;
  const xmlNode* n = FindFirst(xmlDocGetRootElement(doc.get()), name);
  if (n == nullptr) return std::nullopt;
  return Text(n);
}

Result<ListPage> ParseListObjectsV2(std::string_view xml) {
  Doc doc = Parse(xml);
  const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr || !Named(root, "ListBucketResult"))
    return InternalError("s3_bad_answer", "ListObjectsV2 answer is not a ListBucketResult");
  ListPage page;
  bool truncated = false;
  for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
    if (Named(c, "IsTruncated")) {
      truncated = Text(c) == "true";
    } else if (Named(c, "NextContinuationToken")) {
      page.next_token = Text(c);
    } else if (Named(c, "Contents")) {
      ListEntry e;
      if (const xmlNode* k = Child(c, "Key")) e.key = Text(k);
      if (const xmlNode* m = Child(c, "LastModified")) e.modified_unix_ms = ParseIso8601Ms(Text(m));
      if (const xmlNode* s = Child(c, "Size")) {
        const std::string size = Text(s);
        std::from_chars(size.data(), size.data() + size.size(), e.size);
      }
      page.entries.push_back(std::move(e));
    }
  }
  if (!truncated) page.next_token.clear();
  else if (page.next_token.empty())
    return InternalError("s3_bad_answer", "truncated listing without a continuation token");
  return page;
}

}  // namespace photo::storage
