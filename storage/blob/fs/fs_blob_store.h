// fs_blob_store.h - the default blob store: immutable blobs as files on a local or
// shared filesystem (DESIGN: blob store, backend `file`).
//
// NAME
//   FsBlobStore - content-addressed blobs under one root directory.
// SYNOPSIS
//   auto store = FsBlobStore::Open("/var/lib/columba/blobs");
//   auto id = (*store)->Put(bytes);          // durable when it returns an id
// DESCRIPTION
//   Layout: root/ab/cd/<64 hex>, fanned out by the first 2+2 hex digits of the id;
//   root/tmp/ holds files being written. A write goes to a fresh O_EXCL temp file,
//   is hashed while it streams (SHA-256), fsync'ed, then renamed to its id and the
//   target directory (and any fan-out directory not yet known durable) fsync'ed.
//   If the target exists it holds the same bytes by construction: the temp file is
//   dropped (dedupe). Reads use pread; Stream hands out 64 KiB chunks.
// NEVER
//   - returns an id before the file and its directory entry are fsync'ed;
//   - touches a path built from an id that failed IsValidBlobId;
//   - lists or serves a temp file (a crash leaves them in root/tmp/, outside the
//     layout; RemoveStaleTemp clears them).
// DIAGNOSTICS
//   kInvalidInput for malformed ids, kNotFound for ENOENT, kUnavailable (with the
//   errno text) for everything the environment can cause: ENOSPC, EIO, EACCES, ...
#pragma once

#include <bitset>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "storage/api/blob_store.h"

namespace columba::storage {

class FsBlobStore final : public BlobStore {
 public:
  // Opens (and creates if missing, with root/tmp/) the store rooted at `root`.
  // precreate_fanout: lay out all 65,536 fan-out directories once (marker file
  // root/.fanout; ~2 s on a new store), so no Put pays a directory creation and
  // its fsync; without it directories are made, durably, on first use.
  static Result<std::unique_ptr<FsBlobStore>> Open(const std::filesystem::path& root, bool precreate_fanout = false);

  // Only Open can make the key: use Open.
  class Key {
    friend class FsBlobStore;
    Key() = default;
  };
  FsBlobStore(Key, std::filesystem::path root);

  Result<std::string> Put(std::string_view bytes) override;
  // The sink refers to this store: drop it before the store.
  Result<std::unique_ptr<BlobSink>> Create() override;
  Result<uint64_t> Size(std::string_view id) override;
  Result<std::string> Read(std::string_view id, uint64_t offset, uint64_t length) override;
  Result<void> Stream(std::string_view id, uint64_t offset, uint64_t length,
                      const std::function<bool(std::string_view)>& consumer) override;
  Result<void> Remove(std::string_view id) override;
  Result<void> ForEach(const std::function<void(std::string_view)>& fn) override;

  // Deletes temp files (left by crashed writers) whose mtime is older than
  // `older_than`; returns how many were removed. Pick a margin far above the time
  // any live write can take (e.g. one hour), since a live sink's file is in tmp/ too.
  Result<size_t> RemoveStaleTemp(std::chrono::seconds older_than);

  const std::filesystem::path& root() const { return root_; }
  // Where the blob `id` lives (id must be valid). For tests and operators.
  std::filesystem::path PathFor(std::string_view id) const;

 private:
  class Sink;

  // Moves a complete, fsync'ed temp file into place under `id`.
  Result<void> Install(const std::string& tmp_path, const std::string& id, uint64_t size);
  // Makes root/ab and root/ab/cd exist with durable directory entries.
  Result<void> EnsureFanout(std::string_view id);

  std::filesystem::path root_;
  std::filesystem::path tmp_dir_;
  // Fan-out directories this process has made sure are durable (created or found,
  // then the parent fsync'ed once). Index: first byte / first two bytes of the id.
  std::mutex fanout_mu_;
  Result<void> PrecreateFanout();
  std::bitset<256> level1_durable_;
  std::bitset<65536> level2_durable_;
};

}  // namespace columba::storage
