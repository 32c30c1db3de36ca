// deflate.cc - zlib raw DEFLATE streams (deflate.h).
#include "lib/net/deflate.h"

#include <zlib.h>

namespace columba::net {

struct Deflater::State {
  z_stream z{};
  bool ready = false;
  ~State() {
    if (ready) deflateEnd(&z);
  }
};

Deflater::Deflater() : s_(std::make_unique<State>()) {}
Deflater::~Deflater() = default;

Result<std::unique_ptr<Deflater>> Deflater::Create() {
  std::unique_ptr<Deflater> d(new Deflater());
  // Raw deflate (negative window bits), 4 KiB window, memLevel 5: ~32 KiB of state.
  if (deflateInit2(&d->s_->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 5, Z_DEFAULT_STRATEGY) != Z_OK)
    return Fail(ErrorKind::kInternal, "deflateInit2 failed");
  d->s_->ready = true;
  return d;
}

Result<std::string> Deflater::Compress(std::string_view data) {
  std::string out;
  z_stream& z = s_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buf[16384];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Fail(ErrorKind::kInternal, "deflate failed");
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (z.avail_out == 0 || z.avail_in > 0);
  return out;
}

struct Inflater::State {
  z_stream z{};
  bool ready = false;
  std::string in;    // compressed bytes not yet consumed
  size_t used = 0;   // consumed prefix of `in`
  bool ended = false;
  ~State() {
    if (ready) inflateEnd(&z);
  }
};

Inflater::Inflater() : s_(std::make_unique<State>()) {}
Inflater::~Inflater() = default;

Result<std::unique_ptr<Inflater>> Inflater::Create() {
  std::unique_ptr<Inflater> d(new Inflater());
  if (inflateInit2(&d->s_->z, -15) != Z_OK) return Fail(ErrorKind::kInternal, "inflateInit2 failed");
  d->s_->ready = true;
  return d;
}

void Inflater::Input(std::string_view compressed) {
  if (s_->used > 0 && s_->used == s_->in.size()) {
    s_->in.clear();
    s_->used = 0;
  }
  s_->in.append(compressed);
}

bool Inflater::Pending() const { return s_->used < s_->in.size(); }

Result<std::string> Inflater::Next(size_t max_out) {
  std::string out;
  if (!Pending() || s_->ended) return out;
  out.resize(max_out);
  z_stream& z = s_->z;
  z.next_in = reinterpret_cast<Bytef*>(s_->in.data() + s_->used);
  z.avail_in = static_cast<uInt>(s_->in.size() - s_->used);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(max_out);
  int rc = inflate(&z, Z_SYNC_FLUSH);
  if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
    return Fail(ErrorKind::kInvalidInput, "corrupt DEFLATE stream");
  if (rc == Z_STREAM_END) s_->ended = true;
  s_->used = s_->in.size() - z.avail_in;
  out.resize(max_out - z.avail_out);
  if (s_->used == s_->in.size()) {
    std::string().swap(s_->in);  // an idle session keeps no input buffer
    s_->used = 0;
  }
  return out;
}

}  // namespace columba::net
