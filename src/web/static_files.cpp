// See static_files.hpp. Caching (RFC 9111): Vite names the files under assets/ by a hash of their
// content, so they may be kept for a year ("immutable"); index.html and everything else is
// revalidated on each use ("no-cache") with an ETag of size and modification time (304).
#include "web/static_files.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <system_error>
#include <vector>

#ifndef GATEHOUSE_WEB_DIR
#define GATEHOUSE_WEB_DIR "web/dist"
#endif

namespace gatehouse::web {
namespace fs = std::filesystem;
namespace {

constexpr std::uintmax_t max_file_size = 32 * 1024 * 1024;

// The interface's own files only: scripts, styles and resources from 'self', no inline script,
// no framing. Message data is never markup (the interface writes it as text).
constexpr const char* page_policy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string_view content_type_of(const fs::path& file) {
  std::string extension = file.extension().string();
  for (char& c : extension)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (extension == ".html") return "text/html; charset=utf-8";
  if (extension == ".js" || extension == ".mjs") return "text/javascript; charset=utf-8";
  if (extension == ".css") return "text/css; charset=utf-8";
  if (extension == ".json" || extension == ".map") return "application/json";
  if (extension == ".webmanifest") return "application/manifest+json";
  if (extension == ".svg") return "image/svg+xml";
  if (extension == ".png") return "image/png";
  if (extension == ".jpg" || extension == ".jpeg") return "image/jpeg";
  if (extension == ".gif") return "image/gif";
  if (extension == ".webp") return "image/webp";
  if (extension == ".ico") return "image/x-icon";
  if (extension == ".woff2") return "font/woff2";
  if (extension == ".woff") return "font/woff";
  if (extension == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// The path's segments, or false when one of them could leave the directory or name a hidden file.
bool safe_segments(std::string_view path, std::vector<std::string_view>& segments) {
  if (path.empty() || path.front() != '/') return false;
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) return false;
  path.remove_prefix(1);
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (segment.empty()) return false;               // "//": nothing of ours looks like that
    if (segment.front() == '.') return false;         // ".", "..", ".git", ".env"
    segments.push_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return true;
}

void add_headers(Response& response, bool page, bool immutable) {
  response.headers.emplace_back("Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  if (page) {
    response.headers.emplace_back("Content-Security-Policy", page_policy);
    response.headers.emplace_back("X-Frame-Options", "DENY");
  }
}

Response not_found() {
  Response response = Response::error(404, "no such file");
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

// `file` inside `root` (both resolved, links followed), or an empty path.
fs::path resolve_inside(const fs::path& root, const fs::path& file) {
  std::error_code ec;
  fs::path resolved = fs::canonical(file, ec);
  if (ec) return {};
  auto [root_end, file_it] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
  if (root_end != root.end() || file_it == resolved.end()) return {};
  if (!fs::is_regular_file(resolved, ec)) return {};
  return resolved;
}

Response send_file(const Request& request, const fs::path& file, bool immutable) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec || size > max_file_size) return not_found();
  const auto modified = fs::last_write_time(file, ec);
  const std::string etag =
      fmt::format("\"{:x}-{:x}\"", size, ec ? 0 : static_cast<std::uint64_t>(modified.time_since_epoch().count()));
  const bool page = file.extension() == ".html";
  Response response;
  response.content_type = std::string(content_type_of(file));
  response.headers.emplace_back("ETag", etag);
  add_headers(response, page, immutable);
  if (request.header("if-none-match") == etag) {
    response.status = 304;
    response.content_type.clear();
    return response;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!in) return not_found();
  response.body.resize(size);
  if (size && std::fread(response.body.data(), 1, size, in.get()) != size) {
    Response error = Response::error(500, "cannot read the file");
    return error;
  }
  return response;
}

}  // namespace

fs::path default_static_dir() { return GATEHOUSE_WEB_DIR; }

fs::path static_dir(const WebConfig& web) { return web.static_dir.empty() ? default_static_dir() : web.static_dir; }

bool is_static_path(std::string_view path) {
  return !(path == "/api" || path.starts_with("/api/") || path == "/metrics");
}

Response serve_static(const Request& request, const WebConfig& web) {
  if (request.method != "GET" && request.method != "HEAD") {
    Response response = Response::error(405, fmt::format("method {} not allowed here", request.method));
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  std::vector<std::string_view> segments;
  if (!safe_segments(request.path, segments)) return not_found();

  std::error_code ec;
  const fs::path root = fs::canonical(static_dir(web), ec);
  if (ec || !fs::is_regular_file(root / "index.html", ec)) {
    Response response = Response::error(
        503, fmt::format("the web interface is not built: no {}/index.html (run scripts/build.sh, or npm ci && npm run "
                         "build in web/, or set [web] static_dir)",
                         static_dir(web).string()));
    response.headers.emplace_back("Cache-Control", "no-store");
    return response;
  }
  fs::path wanted = root;
  for (auto segment : segments) wanted /= fs::path(std::string(segment));
  const bool asset = !segments.empty() && segments.front() == "assets";
  if (!segments.empty()) {
    if (fs::path file = resolve_inside(root, wanted); !file.empty()) return send_file(request, file, asset);
    // A page of the interface's own routing (not an asset, not a missing file of a type the
    // interface has — a domain name as in /domains/example.org is a page): index.html.
    std::error_code ec;
    if (asset || content_type_of(fs::path(std::string(segments.back()))) != "application/octet-stream" ||
        fs::exists(fs::symlink_status(wanted, ec)))
      return not_found();
  }
  fs::path index = resolve_inside(root, root / "index.html");
  if (index.empty()) return not_found();
  return send_file(request, index, false);
}

}  // namespace gatehouse::web
