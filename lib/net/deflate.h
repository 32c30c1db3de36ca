// deflate.h - raw DEFLATE (RFC 1951) for IMAP COMPRESS=DEFLATE (RFC 4978).
//
// NAME
//   Deflater, Inflater
//
// DESCRIPTION
//   Deflater compresses what a session writes; every Compress call ends with a
//   sync flush (Z_SYNC_FLUSH), so each response is complete on the wire and
//   the client can act on it at once (RFC 4978 section 4). It uses a 4 KiB
//   window and a small hash table (about 32 KiB of zlib state): compression is
//   a little weaker than zlib's default, memory per connection much lower.
//   Inflater accepts any window (up to 32 KiB, what clients use) and hands its
//   output out in bounded pieces: a few KiB of input that inflate to gigabytes
//   (a "zip bomb") never sit in memory at once; the session feeds one piece
//   to the protocol parser, whose limits then apply, before asking for the next.
//
// NEVER
//   Produces output that is not flushed to a byte boundary; grows a buffer by
//   more than `max_out` per Next call; hides a corrupt stream (kInvalidInput).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "lib/base/result.h"

namespace columba::net {

class Deflater {
 public:
  static Result<std::unique_ptr<Deflater>> Create();
  ~Deflater();
  // The compressed form of `data`, sync-flushed.
  Result<std::string> Compress(std::string_view data);

 private:
  Deflater();
  struct State;
  std::unique_ptr<State> s_;
};

class Inflater {
 public:
  static Result<std::unique_ptr<Inflater>> Create();
  ~Inflater();
  // Adds compressed bytes (kept until inflated).
  void Input(std::string_view compressed);
  // Up to `max_out` decompressed bytes; empty when more input is needed.
  Result<std::string> Next(size_t max_out);
  // Compressed input not yet consumed (then Next may return more).
  bool Pending() const;

 private:
  Inflater();
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace columba::net
