// message_cache.h - this process's cache of what never changes about a message
// (blob id, size, internal date, email id, ENVELOPE/BODYSTRUCTURE fields), by
// mailbox and UID, so that FETCH of those items needs no metad call.
//
// DESCRIPTION
//   A mailbox id is never reused and a UID never names another message in it,
//   so an entry is never stale. FETCH uses an entry only together with a
//   current mailbox index (mailbox_index.h), which says whether the message
//   still exists and gives its flags. Least recently used entries go first
//   once imap.message_cache_bytes is reached.
//
// NEVER
//   Never holds flags, keywords or MODSEQ (they change), nor body text or
//   header text (metad's Fetch leaves them out for FETCH: without_text).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "columba/v1/metadata.pb.h"

namespace columba::imapd {

class MessageCache {
 public:
  explicit MessageCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  MessageCache(const MessageCache&) = delete;
  MessageCache& operator=(const MessageCache&) = delete;

  // The unchanging fields of the message, or null.
  std::shared_ptr<const v1::MessageMeta> Get(uint64_t mailbox_id, uint32_t uid);
  // Keeps the unchanging fields of `m` (flags, keywords, MODSEQ, body and
  // header text dropped); a copy with parsed fields replaces one without.
  void Put(uint64_t mailbox_id, const v1::MessageMeta& m);
  size_t bytes() const;
  size_t size() const;

 private:
  struct Key {
    uint64_t mailbox;
    uint32_t uid;
    bool operator==(const Key&) const = default;
  };
  struct Hash {
    size_t operator()(const Key& k) const { return std::hash<uint64_t>()(k.mailbox * 0x9E3779B97F4A7C15ull ^ k.uid); }
  };
  struct Item {
    Key key;
    std::shared_ptr<const v1::MessageMeta> meta;
    size_t bytes;
  };
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Item> lru_;  // front: most recently used
  std::unordered_map<Key, std::list<Item>::iterator, Hash> map_;
  size_t bytes_ = 0;
};

}  // namespace columba::imapd
