#include "photo/http/openapi.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "photo/core/text.h"

namespace photo::http {
namespace {

using Json = nlohmann::ordered_json;  // keeps the document's order on the page


// Escapes, then turns `code` spans (the spec's Markdown subset) into <code>.
std::string Text(const Json& j) {
  if (!j.is_string()) return "";
  std::string escaped = EscapeXml(j.get<std::string>());
  std::string out;
  bool open = false;
  for (char c : escaped) {
    if (c == '`') {
      out += open ? "</code>" : "<code>";
      open = !open;
    } else {
      out += c;
    }
  }
  if (open) out += "</code>";
  return out;
}

std::string Str(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

std::string RefName(const std::string& ref) {
  size_t slash = ref.rfind('/');
  return slash == std::string::npos ? ref : ref.substr(slash + 1);
}

std::string Anchor(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    out += ok ? c : '-';
  }
  return out;
}

// A one-line description of a schema: "string (binary)", "array of Box",
// a link for a $ref.
std::string SchemaSummary(const Json& s) {
  if (!s.is_object()) return "";
  if (s.contains("$ref") && s["$ref"].is_string()) {
    std::string name = RefName(s["$ref"].get<std::string>());
    return "<a href=\"#schema-" + Anchor(name) + "\">" + EscapeXml(name) + "</a>";
  }
  std::string type = Str(s, "type");
  std::string out = EscapeXml(type.empty() ? "any" : type);
  if (type == "array" && s.contains("items")) out = "array of " + SchemaSummary(s["items"]);
  if (type == "object" && s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
    out = "map of name &rarr; " + SchemaSummary(s["additionalProperties"]);
  }
  if (!Str(s, "format").empty()) out += " (" + EscapeXml(Str(s, "format")) + ")";
  if (s.contains("enum") && s["enum"].is_array()) {
    std::string values;
    for (const auto& v : s["enum"]) {
      if (!values.empty()) values += " | ";
      values += EscapeXml(v.is_string() ? v.get<std::string>() : v.dump());
    }
    out += ": " + values;
  }
  if (!Str(s, "pattern").empty()) out += ", pattern <code>" + EscapeXml(Str(s, "pattern")) + "</code>";
  if (s.value("nullable", false)) out += ", nullable";
  return out;
}

std::string PropertiesTable(const Json& schema) {
  if (!schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object()) return "";
  std::vector<std::string> required;
  if (schema.contains("required") && schema["required"].is_array()) {
    for (const auto& r : schema["required"]) {
      if (r.is_string()) required.push_back(r.get<std::string>());
    }
  }
  std::string out = "<table><tr><th>field</th><th>type</th><th>description</th></tr>";
  for (const auto& [name, prop] : schema["properties"].items()) {
    bool req = std::find(required.begin(), required.end(), name) != required.end();
    out += "<tr><td><code>" + EscapeXml(name) + "</code>" + (req ? " <small>required</small>" : "") +
           "</td><td>" + SchemaSummary(prop) + "</td><td>" + Text(prop.value("description", Json())) +
           PropertiesTable(prop) + "</td></tr>";
  }
  return out + "</table>";
}

// Resolves "#/components/<kind>/<name>" inside the document.
const Json* Resolve(const Json& spec, const Json& maybe_ref) {
  if (!maybe_ref.is_object() || !maybe_ref.contains("$ref")) return &maybe_ref;
  std::string ref = Str(maybe_ref, "$ref");
  if (ref.rfind("#/", 0) != 0) return nullptr;
  const Json* cur = &spec;
  size_t pos = 2;
  while (pos <= ref.size()) {
    size_t next = ref.find('/', pos);
    if (next == std::string::npos) next = ref.size();
    std::string key = ref.substr(pos, next - pos);
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
    pos = next + 1;
  }
  return cur;
}

std::string ContentList(const Json& content) {
  std::string out;
  if (!content.is_object()) return out;
  for (const auto& [type, media] : content.items()) {
    out += "<div><code>" + EscapeXml(type) + "</code>";
    if (media.contains("schema")) out += " &mdash; " + SchemaSummary(media["schema"]);
    if (media.contains("example")) {
      const Json& ex = media["example"];
      out += "<pre>" + EscapeXml(ex.is_string() ? ex.get<std::string>() : ex.dump(2)) + "</pre>";
    }
    out += "</div>";
  }
  return out;
}

std::string Operation(const Json& spec, const std::string& path, const std::string& method,
                      const Json& op) {
  std::string m = method;
  for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string out = "<section class=\"op\" id=\"op-" + Anchor(m + path) + "\"><h3><span class=\"m " +
                    EscapeXml(method) + "\">" + EscapeXml(m) + "</span> <code>" + EscapeXml(path) +
                    "</code> " + Text(op.value("summary", Json())) + "</h3>";
  out += "<p>" + Text(op.value("description", Json())) + "</p>";
  if (op.contains("parameters") && op["parameters"].is_array() && !op["parameters"].empty()) {
    out += "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>";
    for (const auto& p : op["parameters"]) {
      out += "<tr><td><code>" + EscapeXml(Str(p, "name")) + "</code>" +
             (p.value("required", false) ? " <small>required</small>" : "") + "</td><td>" +
             EscapeXml(Str(p, "in")) + "</td><td>" + SchemaSummary(p.value("schema", Json())) +
             "</td><td>" + Text(p.value("description", Json())) + "</td></tr>";
    }
    out += "</table>";
  }
  if (op.contains("requestBody")) {
    const Json& body = op["requestBody"];
    out += "<h4>Request body</h4>";
    if (body.contains("content") && body["content"].is_object()) {
      for (const auto& [type, media] : body["content"].items()) {
        out += "<div><code>" + EscapeXml(type) + "</code></div>" + PropertiesTable(media.value("schema", Json()));
      }
    }
  }
  if (op.contains("responses") && op["responses"].is_object()) {
    out += "<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>";
    for (const auto& [code, ref_or_resp] : op["responses"].items()) {
      const Json* r = Resolve(spec, ref_or_resp);
      if (r == nullptr) continue;
      std::string headers;
      if (r->contains("headers") && (*r)["headers"].is_object()) {
        for (const auto& [h, unused] : (*r)["headers"].items()) {
          headers += (headers.empty() ? "<br><small>headers: " : ", ") + EscapeXml(h);
        }
        if (!headers.empty()) headers += "</small>";
      }
      out += "<tr><td><b>" + EscapeXml(code) + "</b></td><td>" + Text(r->value("description", Json())) + headers +
             "</td><td>" + ContentList(r->value("content", Json())) + "</td></tr>";
    }
    out += "</table>";
  }
  return out + "</section>";
}

constexpr char kStyle[] = R"css(
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1c1c1c;background:#fafafa}
header{background:#1f2a44;color:#fff;padding:18px 28px}header p{max-width:70em;opacity:.9}
main{padding:8px 28px 40px;max-width:78em}
code{background:#eef0f3;padding:1px 4px;border-radius:3px;font-size:92%}
header code{background:#33415f;color:#fff}
pre{background:#eef0f3;padding:8px;overflow:auto;font-size:90%;margin:4px 0}
table{border-collapse:collapse;margin:6px 0 10px;width:100%}
th,td{border:1px solid #d6d9de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f3}
.op{background:#fff;border:1px solid #d6d9de;border-radius:6px;padding:4px 16px;margin:14px 0}
.m{display:inline-block;min-width:4em;text-align:center;color:#fff;border-radius:4px;padding:2px 6px;font-size:85%}
.m.get{background:#2f7fd1}.m.post{background:#2e9b57}.m.put{background:#c78a12}.m.delete{background:#c23b3b}
form{background:#fff;border:1px solid #d6d9de;border-radius:6px;padding:12px 16px}
)css";

}  // namespace

std::string RenderDocsPage(std::string_view spec_json) {
  Json spec = Json::parse(spec_json.begin(), spec_json.end(), nullptr, /*allow_exceptions=*/false);
  if (spec.is_discarded() || !spec.is_object()) {
    return "<!doctype html><title>API docs</title><p>The OpenAPI document does not parse.</p>";
  }
  const Json info = spec.value("info", Json::object());
  std::string title = Str(info, "title");
  std::string out = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" +
                    EscapeXml(title) + " API</title><style>" + kStyle + "</style></head><body><header><h1>" +
                    EscapeXml(title) + " <small>" + EscapeXml(Str(info, "version")) + "</small></h1><p>" +
                    Text(info.value("description", Json())) +
                    "</p><p>OpenAPI document: <a style=\"color:#cfe0ff\" href=\"/openapi.json\">/openapi.json</a></p>"
                    "</header><main>";

  out += "<h2>Try it: upload an image</h2><form action=\"/upload/\" method=\"post\" "
         "enctype=\"multipart/form-data\"><input type=\"file\" name=\"file\" accept=\"image/*\" required> "
         "<button type=\"submit\">Upload</button> <small>The answer is JSON; open its "
         "<code>status_url</code> to follow the processing. (Not usable when the server requires a token.)"
         "</small></form>";

  const Json paths = spec.value("paths", Json::object());
  out += "<h2>Routes</h2><ul>";
  for (const auto& [path, item] : paths.items()) {
    if (!item.is_object()) continue;
    for (const auto& [method, op] : item.items()) {
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out += "<li><a href=\"#op-" + Anchor(m + path) + "\"><code>" + EscapeXml(m) + " " + EscapeXml(path) +
             "</code></a> " + Text(op.value("summary", Json())) + "</li>";
    }
  }
  out += "</ul>";
  for (const auto& [path, item] : paths.items()) {
    if (!item.is_object()) continue;
    for (const auto& [method, op] : item.items()) out += Operation(spec, path, method, op);
  }

  const Json schemas = spec.value("components", Json::object()).value("schemas", Json::object());
  if (!schemas.empty()) {
    out += "<h2>Schemas</h2>";
    for (const auto& [name, schema] : schemas.items()) {
      out += "<section class=\"op\" id=\"schema-" + Anchor(name) + "\"><h3>" + EscapeXml(name) + "</h3><p>" +
             SchemaSummary(schema) + "</p><p>" + Text(schema.value("description", Json())) + "</p>" +
             PropertiesTable(schema) + "</section>";
    }
  }
  return out + "</main></body></html>";
}

}  // namespace photo::http
