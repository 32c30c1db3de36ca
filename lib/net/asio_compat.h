// asio_compat.h - one include for asio with coroutines, and the completion token
// every session uses: `kNoThrow` makes an awaited operation return
// (error_code, result...) as a tuple instead of throwing, so protocol code checks
// errors where they happen. (Debian 12 ships asio 1.22, where as_tuple is still
// under asio::experimental.)
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

namespace columba::net {
inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);
}  // namespace columba::net
