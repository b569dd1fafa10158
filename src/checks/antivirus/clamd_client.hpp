// An asynchronous clamd client: connects to clamd (unix socket or TCP), sends data with INSTREAM
// (clamd_protocol.hpp, clamd(8)) and reads the verdict, all within one time budget. Failures —
// nothing listening, a broken connection, a reply that never comes, clamd's own ERROR — are
// returned as values (ScanReply::Kind::error with a description), never thrown.
#pragma once
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "checks/antivirus/clamd_protocol.hpp"

namespace gatehouse::clamd {

// Scans `data` with the clamd at `address` ("unix:/path", "/path" or "tcp:IP:PORT"); the whole
// exchange (connect, send, reply) takes at most `timeout`. `data` must stay alive until the
// returned awaitable completes.
boost::asio::awaitable<ScanReply> scan(std::string address, std::string_view data, std::chrono::milliseconds timeout,
                                       std::size_t chunk_size = default_chunk_size);

}  // namespace gatehouse::clamd
