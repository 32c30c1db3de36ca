// delivery.h - DeliverToMailbox: one recipient's copy of a message, made durable.
//
// Order of work, which is what makes the LMTP 250 safe to send: (1) write
// Return-Path + Delivered-To + the message to the blob store and fsync it; (2)
// call metad Append, which commits the metadata transaction (quota checked under
// lock). Only when both succeeded is the result kDelivered. Any failure before
// that leaves at worst an unreferenced blob (to be garbage-collected; blob GC is
// not written yet), never a half-visible message. A copy that would exceed the
// quota by the last known usage is checked with metad first and refused before
// its blob is written, so over-quota mail normally stores nothing at all. MIME is parsed once per message (PreparedMessage), not
// once per recipient.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "columba/v1/metadata.pb.h"
#include "lib/imap/section.h"
#include "lib/net/blocking_pool.h"
#include "lib/rpc/metad_client.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"

namespace columba::lmtpd {

// What every recipient's copy shares: the bytes and the parse results.
struct PreparedMessage {
  std::string data;            // CRLF, dot-unstuffed, as received
  v1::ParsedFields parsed;     // computed once from data
  imap::PartMap part_map;      // MIME part offsets within data (shifted per copy for its trace headers)
};

// Parses the message once; kLimitExceeded/kInvalidInput when lib/mail refuses it.
Result<std::shared_ptr<const PreparedMessage>> PrepareMessage(std::string data);

struct Recipient {
  std::string address;     // as given in RCPT TO (normalised)
  std::string mailbox;     // target folder ("INBOX" or the +detail)
  storage::Account account;
};

enum class Outcome { kDelivered, kQuotaExceeded, kTemporary, kRejected };

struct DeliveryResult {
  Outcome outcome;
  std::string detail;
  uint32_t uid = 0;
};

// Caches account ids from EnsureAccount for a short time (quota changes in the
// directory reach metad within the TTL), with the quota usage metad last
// reported. The usage is only a hint to refuse likely over-quota copies before
// their blob is written; metad's check at commit stays the authority.
class AccountCache {
 public:
  struct Known {
    uint64_t id;
    v1::Quota quota;  // limits and usage as last reported by metad
  };
  explicit AccountCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}
  std::optional<Known> Get(const std::string& address, uint64_t storage_limit, uint64_t message_limit);
  void Put(const std::string& address, uint64_t storage_limit, uint64_t message_limit, uint64_t id,
           const v1::Quota& quota);
  // Records usage after an append (or a fresh GetQuota), if the entry is cached.
  void UpdateQuota(const std::string& address, const v1::Quota& quota);

 private:
  struct Entry {
    uint64_t id, storage_limit, message_limit;
    v1::Quota quota;
    std::chrono::steady_clock::time_point expires;
  };
  std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> map_;
};

struct DeliveryContext {
  storage::BlobStore& blobs;
  rpc::MetadClient& metad;
  net::BlockingPool& pool;
  AccountCache& accounts;
};

asio::awaitable<DeliveryResult> DeliverToMailbox(DeliveryContext& ctx, const PreparedMessage& msg,
                                                 const std::string& return_path, const Recipient& rcpt);

}  // namespace columba::lmtpd
