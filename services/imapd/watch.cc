// watch.cc - metad Watch through grpc::ClientReadReactor, one stream per
// watched mailbox, fanned out to the IDLE sessions (watch.h).
#include "services/imapd/watch.h"

#include <map>
#include <mutex>
#include <vector>

#include "lib/base/log.h"
#include "services/imapd/mailbox_index.h"

namespace columba::imapd {

namespace {
constexpr auto kWatchRetry = std::chrono::seconds(5);

void Signal(const std::shared_ptr<IdleSignal>& sig) {
  asio::post(sig->timer.get_executor(), [sig] {
    sig->change = true;
    sig->Wake();
  });
}
}  // namespace

// One Watch stream; reports to the hub state under its mailbox and generation,
// so a cancelled old stream never disturbs its successor.
class MailboxStream : public grpc::ClientReadReactor<v1::MailboxChange> {
 public:
  static std::shared_ptr<MailboxStream> Start(rpc::MetadClient& metad, std::weak_ptr<WatchHub::State> hub,
                                              uint64_t account_id, uint64_t mailbox_id, uint64_t generation);
  void Cancel() { ctx_.TryCancel(); }
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& s) override;

 private:
  MailboxStream(std::weak_ptr<WatchHub::State> hub, uint64_t mailbox, uint64_t generation)
      : hub_(std::move(hub)), mailbox_(mailbox), generation_(generation) {}
  std::weak_ptr<WatchHub::State> hub_;
  uint64_t mailbox_;
  uint64_t generation_;
  grpc::ClientContext ctx_;
  v1::WatchRequest req_;
  v1::MailboxChange msg_;
  std::shared_ptr<MailboxStream> self_;  // until OnDone
};

struct WatchHub::State : std::enable_shared_from_this<WatchHub::State> {
  State(rpc::MetadClient& m, asio::any_io_executor e, std::chrono::milliseconds l)
      : metad(m), ex(std::move(e)), linger(l) {}
  struct Entry {
    uint64_t account = 0;
    uint64_t generation = 0;
    std::shared_ptr<MailboxStream> stream;  // null while waiting to retry
    bool ready = false;                     // the stream said `ready`
    bool retry_pending = false;
    uint64_t epoch = 0;  // see watch_probe.h
    uint64_t seen = 0;
    std::vector<std::pair<uint64_t, std::weak_ptr<IdleSignal>>> subs;
    std::shared_ptr<const IndexSnapshot> index;
    size_t index_bytes = 0;
    uint64_t linger = 0;  // the linger timer that may close it (0: none)
  };
  struct Account {
    uint64_t epoch = 0;  // bumped by TouchAccount
    size_t entries = 0;  // kept while mailboxes of the account have entries
  };
  rpc::MetadClient& metad;
  asio::any_io_executor ex;
  std::chrono::milliseconds linger;
  uint64_t next_linger = 1;
  mutable std::mutex mu;
  std::map<uint64_t, Entry> entries;  // by mailbox id
  std::map<uint64_t, Account> accounts;
  uint64_t next_id = 1;
  uint64_t next_generation = 1;
  uint64_t next_epoch = 1;  // one counter for all, so an epoch is never seen twice
  size_t index_bytes = 0;   // over all entries

  // Under mu.
  void Erase(std::map<uint64_t, Entry>::iterator it) {
    index_bytes -= it->second.index_bytes;
    auto a = accounts.find(it->second.account);
    if (a != accounts.end() && --a->second.entries == 0) accounts.erase(a);
    entries.erase(it);
  }

  // Under mu.
  void Open(uint64_t mailbox, Entry& e) {
    e.generation = next_generation++;
    e.ready = false;
    e.stream = MailboxStream::Start(metad, weak_from_this(), e.account, mailbox, e.generation);
  }
  std::vector<std::shared_ptr<IdleSignal>> Live(Entry& e) {
    std::vector<std::shared_ptr<IdleSignal>> out;
    for (auto& [id, w] : e.subs)
      if (auto s = w.lock()) out.push_back(std::move(s));
    return out;
  }

  void OnChange(uint64_t mailbox, uint64_t generation, const v1::MailboxChange& c) {
    std::vector<std::shared_ptr<IdleSignal>> wake;
    {
      std::lock_guard lock(mu);
      auto it = entries.find(mailbox);
      if (it == entries.end() || it->second.generation != generation) return;
      Entry& e = it->second;
      e.ready = true;
      // `ready`, and metad's "resync everything" (mailbox 0, after its LISTEN
      // reconnected or its queue overflowed): what happened before is unknown.
      if (c.ready() || c.mailbox_id() == 0 || c.highestmodseq() == 0)
        e.epoch = next_epoch++;
      else
        e.seen = std::max(e.seen, c.highestmodseq());
      wake = Live(e);
    }
    for (auto& s : wake) Signal(s);
  }

  void OnEnded(uint64_t mailbox, uint64_t generation) {
    std::lock_guard lock(mu);
    auto it = entries.find(mailbox);
    if (it == entries.end() || it->second.generation != generation) return;
    Entry& e = it->second;
    e.stream.reset();
    e.ready = false;
    e.epoch = next_epoch++;
    if (e.subs.empty()) {
      Erase(it);
      return;
    }
    if (e.retry_pending) return;
    e.retry_pending = true;
    auto timer = std::make_shared<asio::steady_timer>(ex, kWatchRetry);
    timer->async_wait([weak = weak_from_this(), mailbox, timer](asio::error_code) {
      auto self = weak.lock();
      if (!self) return;
      std::lock_guard lock(self->mu);
      auto it = self->entries.find(mailbox);
      if (it == self->entries.end()) return;
      it->second.retry_pending = false;
      if (!it->second.stream && !it->second.subs.empty()) self->Open(mailbox, it->second);
    });
  }
};

std::shared_ptr<MailboxStream> MailboxStream::Start(rpc::MetadClient& metad, std::weak_ptr<WatchHub::State> hub,
                                                    uint64_t account_id, uint64_t mailbox_id, uint64_t generation) {
  std::shared_ptr<MailboxStream> w(new MailboxStream(std::move(hub), mailbox_id, generation));
  w->self_ = w;
  w->req_.set_account_id(account_id);
  w->req_.add_mailbox_ids(mailbox_id);
  metad.stub().async()->Watch(&w->ctx_, &w->req_, w.get());
  w->StartRead(&w->msg_);
  w->StartCall();
  return w;
}

void MailboxStream::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  if (auto hub = hub_.lock()) hub->OnChange(mailbox_, generation_, msg_);
  StartRead(&msg_);
}

void MailboxStream::OnDone(const grpc::Status& s) {
  if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED)
    log::Info("metad Watch ended", {{"error", s.error_message()}});
  if (auto hub = hub_.lock()) hub->OnEnded(mailbox_, generation_);
  auto self = std::move(self_);  // may delete this on return
}

WatchHub::WatchHub(rpc::MetadClient& metad, asio::any_io_executor ex, std::chrono::milliseconds linger)
    : st_(std::make_shared<State>(metad, std::move(ex), linger)) {}

WatchHub::~WatchHub() {
  std::vector<std::shared_ptr<MailboxStream>> cancel;
  {
    std::lock_guard lock(st_->mu);
    for (auto& [id, e] : st_->entries)
      if (e.stream) cancel.push_back(e.stream);
    st_->entries.clear();
    st_->accounts.clear();
    st_->index_bytes = 0;
  }
  for (auto& c : cancel) c->Cancel();
}

std::unique_ptr<WatchHub::Subscription> WatchHub::Subscribe(uint64_t account_id, uint64_t mailbox_id,
                                                            std::shared_ptr<IdleSignal> sig) {
  bool wake_now = false;
  uint64_t id;
  {
    std::lock_guard lock(st_->mu);
    id = st_->next_id++;
    auto [it, created] = st_->entries.try_emplace(mailbox_id);
    auto& e = it->second;
    if (created) {
      e.account = account_id;
      e.epoch = st_->next_epoch++;
      ++st_->accounts[account_id].entries;
    }
    e.subs.emplace_back(id, sig);
    e.linger = 0;  // a pending linger timer finds another token and leaves it
    if (!e.stream && !e.retry_pending) st_->Open(mailbox_id, e);
    wake_now = e.ready;  // joining a live stream: sync what came before
  }
  if (wake_now && sig) Signal(sig);
  return std::make_unique<Subscription>(st_, mailbox_id, id);
}

WatchHub::Probe WatchHub::Look(uint64_t account_id, uint64_t mailbox_id) const {
  std::lock_guard lock(st_->mu);
  auto it = st_->entries.find(mailbox_id);
  if (it == st_->entries.end() || it->second.account != account_id) return {};
  const auto& e = it->second;
  auto a = st_->accounts.find(account_id);
  return {e.ready && e.stream != nullptr, e.epoch, a == st_->accounts.end() ? 0 : a->second.epoch, e.seen};
}

uint64_t WatchHub::TouchAccount(uint64_t account_id) {
  std::lock_guard lock(st_->mu);
  auto a = st_->accounts.find(account_id);
  if (a == st_->accounts.end()) return 0;
  return a->second.epoch = st_->next_epoch++;
}

std::shared_ptr<const IndexSnapshot> WatchHub::Index(uint64_t mailbox_id) const {
  std::lock_guard lock(st_->mu);
  auto it = st_->entries.find(mailbox_id);
  return it == st_->entries.end() ? nullptr : it->second.index;
}

bool WatchHub::PutIndex(uint64_t mailbox_id, std::shared_ptr<const IndexSnapshot> snap, size_t max_bytes) {
  const size_t bytes = snap->Bytes();
  std::lock_guard lock(st_->mu);
  auto it = st_->entries.find(mailbox_id);
  if (it == st_->entries.end()) return false;  // nobody has it selected any more
  auto& e = it->second;
  if (e.index && e.index->modseq > snap->modseq) return true;  // a newer one is already there
  if (st_->index_bytes - e.index_bytes + bytes > max_bytes) return false;
  st_->index_bytes = st_->index_bytes - e.index_bytes + bytes;
  e.index_bytes = bytes;
  e.index = std::move(snap);
  return true;
}

size_t WatchHub::index_bytes() const {
  std::lock_guard lock(st_->mu);
  return st_->index_bytes;
}

size_t WatchHub::streams() const {
  std::lock_guard lock(st_->mu);
  size_t n = 0;
  for (const auto& [id, e] : st_->entries) n += e.stream != nullptr;
  return n;
}

WatchHub::Subscription::~Subscription() {
  auto st = hub_.lock();
  if (!st) return;
  std::shared_ptr<MailboxStream> cancel;
  {
    std::lock_guard lock(st->mu);
    auto it = st->entries.find(mailbox_);
    if (it == st->entries.end()) return;
    auto& subs = it->second.subs;
    std::erase_if(subs, [this](const auto& p) { return p.first == id_; });
    if (!subs.empty()) return;
    if (st->linger.count() > 0) {
      const uint64_t token = it->second.linger = st->next_linger++;
      auto timer = std::make_shared<asio::steady_timer>(st->ex, st->linger);
      timer->async_wait([weak = std::weak_ptr<State>(st), mailbox = mailbox_, token, timer](asio::error_code) {
        auto self = weak.lock();
        if (!self) return;
        std::shared_ptr<MailboxStream> cancel;
        {
          std::lock_guard lock(self->mu);
          auto it = self->entries.find(mailbox);
          if (it == self->entries.end() || it->second.linger != token || !it->second.subs.empty()) return;
          cancel = std::move(it->second.stream);
          self->Erase(it);
        }
        if (cancel) cancel->Cancel();
      });
      return;
    }
    cancel = std::move(it->second.stream);
    st->Erase(it);  // a late OnDone finds no entry (or another generation)
  }
  if (cancel) cancel->Cancel();
}

}  // namespace columba::imapd
