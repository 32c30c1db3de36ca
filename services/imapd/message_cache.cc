// message_cache.cc - an LRU of unchanging message metadata (message_cache.h).
#include "services/imapd/message_cache.h"

namespace columba::imapd {

std::shared_ptr<const v1::MessageMeta> MessageCache::Get(uint64_t mailbox_id, uint32_t uid) {
  std::lock_guard lock(mu_);
  auto it = map_.find(Key{mailbox_id, uid});
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->meta;
}

void MessageCache::Put(uint64_t mailbox_id, const v1::MessageMeta& m) {
  if (max_bytes_ == 0) return;
  auto keep = std::make_shared<v1::MessageMeta>(m);
  keep->clear_flags();
  keep->clear_keywords();
  keep->clear_modseq();
  if (keep->has_parsed()) {
    keep->mutable_parsed()->clear_body_text();
    keep->mutable_parsed()->clear_headers();
  }
  // Protobuf's own count plus the list and map nodes and malloc's overhead.
  const size_t bytes = keep->SpaceUsedLong() * 5 / 4 + sizeof(Item) + 96;
  if (bytes > max_bytes_) return;
  const Key key{mailbox_id, m.uid()};
  std::lock_guard lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    if (it->second->meta->has_parsed() || !keep->has_parsed()) {  // nothing new
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    map_.erase(it);
  }
  lru_.push_front(Item{key, std::move(keep), bytes});
  map_[key] = lru_.begin();
  bytes_ += bytes;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    map_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

size_t MessageCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t MessageCache::size() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace columba::imapd
