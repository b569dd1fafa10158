// The browser interface's files (web/dist, built by Vite) served by the daemon at /: every path
// that is not the API (/api/…) or /metrics. A file that exists is sent with its Content-Type; a
// path that names no file and looks like a page (/messages/ID: no dot in its last segment, not
// under /assets/) gets index.html, so the interface's own routes survive a reload. Nothing outside
// the directory is ever read: "." / ".." segments, hidden names, backslashes and NUL bytes are
// refused, and the resolved path (symbolic links followed) must stay inside the directory.
#pragma once
#include <filesystem>
#include <string_view>

#include "config/config.hpp"
#include "web/http.hpp"

namespace gatehouse::web {

// Where the interface is when [web] static_dir is not set: the build's web/dist (chosen when
// CMake configures: -DGATEHOUSE_WEB_DIR=…, by default <source>/web/dist).
std::filesystem::path default_static_dir();
// The directory in use for this configuration.
std::filesystem::path static_dir(const WebConfig& web);

// True for the paths the interface's files answer (not /api/… nor /metrics).
bool is_static_path(std::string_view path);

// GET or HEAD of a file of the interface (405 for other methods, 404 for no such file, 503 when
// the interface is not built). Sets its own Cache-Control and security headers.
Response serve_static(const Request& request, const WebConfig& web);

}  // namespace gatehouse::web
