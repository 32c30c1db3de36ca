// delivery.h - DeliverToMailbox: one recipient's copy of a message, made durable.
//
// Order of work, which is what makes the LMTP 250 safe to send: (1) write
// Return-Path + Delivered-To + the message to the blob store and fsync it; (2)
// call metad Append, which commits the metadata transaction (quota checked under
// lock). Only when both succeeded is the result kDelivered. Any failure before
// that leaves at worst an unreferenced blob (garbage-collected), never a
// half-visible message. MIME is parsed once per message (PreparedMessage), not
// once per recipient.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "columba/v1/metadata.pb.h"
#include "lib/net/blocking_pool.h"
#include "lib/rpc/metad_client.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"

namespace columba::lmtpd {

// What every recipient's copy shares: the bytes and the parse results.
struct PreparedMessage {
  std::string data;            // CRLF, dot-unstuffed, as received
  v1::ParsedFields parsed;     // computed once from data
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
// directory reach metad within the TTL).
class AccountCache {
 public:
  explicit AccountCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}
  std::optional<uint64_t> Get(const std::string& address, uint64_t storage_limit, uint64_t message_limit);
  void Put(const std::string& address, uint64_t storage_limit, uint64_t message_limit, uint64_t id);

 private:
  struct Entry {
    uint64_t id, storage_limit, message_limit;
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
