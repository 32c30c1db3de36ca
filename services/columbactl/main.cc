// main.cc - columbactl: the operator's command line.
//
// Reads the same YAML config as the services (--config, or COLUMBA_* variables):
// the directory (users, aliases, domains) is written through the Directory
// interface, mailbox state and the outbound queue are read (and queued messages
// deleted) through metad's gRPC API, message bytes from the blob store.
// `migrate` is the one command that speaks SQL itself: it applies the schema
// before any metad can run (docs/architecture.md, "Schema tool").
// Passwords are read from --password, --password-file or a prompt, hashed here
// (Argon2id by default) and never printed or logged.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <fstream>
#include <iostream>

#include "lib/auth/password.h"
#include "lib/rpc/metad_client.h"
#include "lib/rpc/queue_client.h"
#include "services/columbactl/queue_cmd.h"
#include "storage/factory/factory.h"
#include "storage/postgres/migrations.h"

using namespace columba;

namespace {

int Die(const std::string& msg, int code = 1) {
  std::cerr << "columbactl: " << msg << "\n";
  return code;
}

std::string ReadPasswordPrompt() {
  std::cerr << "Password: " << std::flush;
  termios old{};
  bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string pw;
  std::getline(std::cin, pw);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  return pw;
}

Result<std::string> ObtainPassword(const std::string& inline_pw, const std::string& file) {
  if (!inline_pw.empty()) return inline_pw;
  if (!file.empty()) {
    std::ifstream in(file);
    std::string pw;
    if (!in || !std::getline(in, pw)) return Fail(ErrorKind::kInvalidInput, "cannot read password file " + file);
    return pw;
  }
  std::string pw = ReadPasswordPrompt();
  if (pw.empty()) return Fail(ErrorKind::kInvalidInput, "empty password");
  return pw;
}

std::string QuotaText(uint64_t n) { return n == 0 ? "unlimited" : std::to_string(n); }

}  // namespace

int main(int argc, char** argv, char** envp) {
  CLI::App app{"columbactl - administer a Columba mail platform"};
  app.require_subcommand(1);
  std::string config_path;
  app.add_option("--config", config_path, "YAML config file (same keys as the services)");

  // migrate
  auto* migrate = app.add_subcommand("migrate", "apply pending PostgreSQL schema migrations (idempotent)");
  std::string pg_uri;
  migrate->add_option("--postgres-uri", pg_uri, "libpq URI (default: metad.postgres_uri / postgres_uri_file)");

  // domain
  auto* domain = app.add_subcommand("domain", "local and relay domains");
  domain->require_subcommand(1);
  std::string domain_name;
  bool domain_relay = false;
  auto* domain_add = domain->add_subcommand("add", "add a local domain (or, with --relay, a relay domain)");
  domain_add->add_option("domain", domain_name)->required();
  domain_add->add_flag("--relay", domain_relay,
                       "a relay domain: mail for it is accepted from anyone and queued for the next hop (backup MX)");
  auto* domain_list = domain->add_subcommand("list", "list domains with their kind: DOMAIN<TAB>local|relay");

  // user
  auto* user = app.add_subcommand("user", "virtual users");
  user->require_subcommand(1);
  std::string address, password, password_file, scheme_name = "ARGON2ID";
  uint64_t quota_bytes_arg = 0, quota_messages_arg = 0;
  auto* user_add = user->add_subcommand("add", "add a user");
  user_add->add_option("address", address)->required();
  user_add->add_option("--password", password, "password (visible in process lists; prefer --password-file)");
  user_add->add_option("--password-file", password_file, "read the password from the first line of a file");
  user_add->add_option("--scheme", scheme_name,
                       "ARGON2ID (default), SHA512-CRYPT, YESCRYPT, BLF-CRYPT, SCRAM-SHA-256 (also enables AUTH=SCRAM-SHA-256), PLAIN");
  user_add->add_option("--quota-bytes", quota_bytes_arg, "storage quota in octets (0 = unlimited)");
  user_add->add_option("--quota-messages", quota_messages_arg, "message count quota (0 = unlimited)");
  bool purge = false;
  auto* user_del = user->add_subcommand("del", "delete a user from the directory (mail is kept unless --purge)");
  user_del->add_option("address", address)->required();
  user_del->add_flag("--purge", purge, "also delete the user's mailboxes and messages in the mailstore");
  auto* user_passwd = user->add_subcommand("passwd", "set a user's password");
  user_passwd->add_option("address", address)->required();
  user_passwd->add_option("--password", password);
  user_passwd->add_option("--password-file", password_file);
  user_passwd->add_option("--scheme", scheme_name);
  auto* user_quota = user->add_subcommand("quota", "set a user's quota");
  user_quota->add_option("address", address)->required();
  user_quota->add_option("--bytes", quota_bytes_arg)->required();
  user_quota->add_option("--messages", quota_messages_arg)->required();
  std::string list_domain;
  auto* user_list = user->add_subcommand("list", "list users");
  user_list->add_option("domain", list_domain, "only this domain");
  auto* user_show = user->add_subcommand("show", "show a user");
  user_show->add_option("address", address)->required();

  // alias
  auto* alias = app.add_subcommand("alias", "aliases");
  alias->require_subcommand(1);
  std::string alias_addr, alias_target;
  auto* alias_add = alias->add_subcommand(
      "add", "make ALIAS deliver to the user TARGET; ALIAS @DOMAIN is the domain's catch-all");
  alias_add->add_option("alias", alias_addr)->required();
  alias_add->add_option("target", alias_target)->required();

  // mailbox / message (read-only views through metad)
  auto* mailbox = app.add_subcommand("mailbox", "mailboxes of a user (through metad)");
  mailbox->require_subcommand(1);
  auto* mailbox_list = mailbox->add_subcommand("list", "list mailboxes with counts");
  mailbox_list->add_option("address", address)->required();
  auto* message = app.add_subcommand("message", "messages of a user (through metad and the blob store)");
  message->require_subcommand(1);
  std::string mailbox_name = "INBOX";
  uint32_t uid = 0;
  auto* message_list = message->add_subcommand("list", "list messages: uid, size, flags, blob, modseq, subject");
  message_list->add_option("address", address)->required();
  message_list->add_option("--mailbox", mailbox_name);
  auto* message_get = message->add_subcommand("get", "write a message's exact bytes to stdout");
  message_get->add_option("address", address)->required();
  message_get->add_option("uid", uid)->required();
  message_get->add_option("--mailbox", mailbox_name);

  // queue (the outbound queue, through metad)
  auto* queue = app.add_subcommand("queue", "the outbound/retry queue (through metad)");
  queue->require_subcommand(1);
  std::string queue_id;
  auto* queue_list = queue->add_subcommand("list", "list queued messages: id, sender, recipients, next attempt, last error");
  auto* queue_show = queue->add_subcommand("show", "show a queued message and each recipient's state");
  queue_show->add_option("id", queue_id)->required();
  auto* queue_delete = queue->add_subcommand("delete", "delete a queued message and all its recipients (no bounce)");
  queue_delete->add_option("id", queue_id)->required();

  // popbeforesmtp (Redis)
  auto* pbs = app.add_subcommand("popbeforesmtp", "POP-before-SMTP records in Redis (client IP -> user)");
  pbs->require_subcommand(1);
  size_t pbs_limit = 10000;
  auto* pbs_list = pbs->add_subcommand("list", "list live records: client IP, user, seconds left in the window");
  pbs_list->add_option("--limit", pbs_limit, "list at most this many records (default 10000)");

  CLI11_PARSE(app, argc, argv);

  auto src = ConfigSource::Load(config_path, envp);
  if (!src) return Die(src.error().message, 2);
  ConfigReader r(*src);
  bool needs_directory = domain->parsed() || user->parsed() || alias->parsed();
  bool needs_blob = message->parsed();
  auto scfg = storage::ReadStorageConfig(r, needs_blob, needs_directory);
  std::string metad_address = r.String("metad", "address", "127.0.0.1:27100");
  std::string cfg_pg_uri = r.String("metad", "postgres_uri", "");
  std::string cfg_pg_uri_file = r.String("metad", "postgres_uri_file", "");
  bool allow_plain = r.Bool("auth", "allow_plain_passwords", false);
  std::optional<storage::EphemeralConfig> ecfg;
  if (pbs->parsed()) ecfg = storage::ReadEphemeralConfig(r);
  // Keys of other services may share the file: unknown keys are fine, bad values are not.
  if (auto fin = r.Finish(true); !fin) return Die(fin.error().message, 2);

  if (migrate->parsed()) {
    if (pg_uri.empty()) pg_uri = cfg_pg_uri;
    if (pg_uri.empty() && !cfg_pg_uri_file.empty()) {
      std::ifstream in(cfg_pg_uri_file);
      std::getline(in, pg_uri);
    }
    if (pg_uri.empty()) return Die("no PostgreSQL URI: use --postgres-uri or metad.postgres_uri(_file)", 2);
    auto rep = pg::ApplyMigrations(pg_uri);
    if (!rep) return Die(rep.error().message);
    std::cout << "schema at version " << rep->current << " (" << rep->applied.size() << " applied now)\n";
    return 0;
  }

  if (pbs_list->parsed()) {
    auto eph = storage::MakeEphemeral(*ecfg, "columbactl");
    if (!eph) return Die(eph.error().message);
    auto records = (*eph)->ListRecentLogins(pbs_limit);
    if (!records) return Die(records.error().message);
    std::sort(records->begin(), records->end(),
              [](const auto& a, const auto& b) { return a.client_ip < b.client_ip; });
    std::cout << "client\tuser\tseconds_left\n";
    for (const auto& rec : *records)
      std::cout << rec.client_ip << "\t" << rec.user << "\t" << (rec.remaining.count() + 999) / 1000 << "\n";
    return 0;
  }

  rpc::MetadClient metad(metad_address, std::chrono::seconds(10));
  if (queue->parsed()) {
    rpc::QueueClient q(metad.channel(), std::chrono::seconds(10));
    if (queue_list->parsed()) return ctl::QueueList(q, std::cout, std::cerr);
    if (queue_show->parsed()) return ctl::QueueShow(q, queue_id, std::cout, std::cerr);
    if (queue_delete->parsed()) return ctl::QueueDelete(q, queue_id, std::cout, std::cerr);
  }
  std::shared_ptr<storage::Directory> dir;
  if (needs_directory) {
    auto d = storage::MakeDirectory(scfg, false);
    if (!d) return Die(d.error().message);
    dir = *d;
  }

  auto normalize = [](const std::string& a) -> Result<std::string> { return storage::NormalizeAddress(a); };

  if (domain_add->parsed()) {
    std::string d = domain_name;
    for (char& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto res = domain_relay ? dir->AddRelayDomain(d) : dir->AddDomain(d); !res) return Die(res.error().message);
    std::cout << (domain_relay ? "relay domain " : "domain ") << d << " added\n";
    return 0;
  }
  if (domain_list->parsed()) {
    auto local = dir->ListDomains();
    if (!local) return Die(local.error().message);
    auto relay = dir->ListRelayDomains();
    if (!relay) return Die(relay.error().message);
    std::vector<std::pair<std::string, const char*>> rows;
    for (auto& d : *local) rows.emplace_back(std::move(d), "local");
    for (auto& d : *relay) rows.emplace_back(std::move(d), "relay");
    std::sort(rows.begin(), rows.end());
    for (const auto& [d, kind] : rows) std::cout << d << "\t" << kind << "\n";
    return 0;
  }
  if (user_add->parsed() || user_passwd->parsed()) {
    auto addr = normalize(address);
    if (!addr) return Die(addr.error().message, 2);
    auto scheme = auth::ParseScheme(scheme_name);
    if (!scheme) return Die(scheme.error().message, 2);
    if (*scheme == auth::PasswordScheme::kPlain && !allow_plain)
      return Die("PLAIN passwords are refused unless auth.allow_plain_passwords is true", 2);
    auto pw = ObtainPassword(password, password_file);
    if (!pw) return Die(pw.error().message, 2);
    auto hash = auth::HashPassword(*pw, *scheme);
    if (!hash) return Die(hash.error().message);
    if (user_add->parsed()) {
      storage::Account a;
      a.address = *addr;
      a.password_hash = *hash;
      a.quota_bytes = quota_bytes_arg;
      a.quota_messages = quota_messages_arg;
      if (auto res = dir->AddAccount(a); !res) return Die(res.error().message);
      std::cout << "user " << *addr << " added\n";
    } else {
      if (auto res = dir->SetPasswordHash(*addr, *hash); !res) return Die(res.error().message);
      std::cout << "password of " << *addr << " changed\n";
    }
    return 0;
  }
  if (user_del->parsed()) {
    auto addr = normalize(address);
    if (!addr) return Die(addr.error().message, 2);
    if (auto res = dir->DeleteAccount(*addr); !res) return Die(res.error().message);
    std::cout << "user " << *addr << " deleted\n";
    if (purge) {
      v1::GetAccountRequest g;
      g.set_address(*addr);
      auto acc = metad.CallSync(&v1::Metadata::Stub::GetAccount, g);
      if (!acc && acc.error().kind == ErrorKind::kNotFound) return 0;  // never had mail
      if (!acc) return Die("mailstore not purged: " + acc.error().message);
      v1::DeleteAccountRequest d;
      d.set_account_id(acc->account().account_id());
      if (auto res = metad.CallSync(&v1::Metadata::Stub::DeleteAccount, d); !res)
        return Die("mailstore not purged: " + res.error().message);
      std::cout << "mailstore of " << *addr << " purged\n";
    }
    return 0;
  }
  if (user_quota->parsed()) {
    auto addr = normalize(address);
    if (!addr) return Die(addr.error().message, 2);
    if (auto res = dir->SetQuota(*addr, quota_bytes_arg, quota_messages_arg); !res) return Die(res.error().message);
    std::cout << "quota of " << *addr << " set\n";
    return 0;
  }
  if (user_list->parsed()) {
    auto res = dir->ListAccounts(list_domain);
    if (!res) return Die(res.error().message);
    for (const auto& a : *res) std::cout << a.address << (a.enabled ? "" : " (disabled)") << "\n";
    return 0;
  }
  if (user_show->parsed()) {
    auto addr = normalize(address);
    if (!addr) return Die(addr.error().message, 2);
    auto res = dir->Lookup(*addr);
    if (!res) return Die(res.error().message);
    if (!res->has_value()) return Die("no such user: " + *addr);
    const auto& a = **res;
    std::cout << "address: " << a.address << "\n";
    for (const auto& al : a.aliases) std::cout << "alias: " << al << "\n";
    std::cout << "enabled: " << (a.enabled ? "yes" : "no") << "\n";
    std::cout << "quota-bytes: " << QuotaText(a.quota_bytes) << "\n";
    std::cout << "quota-messages: " << QuotaText(a.quota_messages) << "\n";
    auto scheme_end = a.password_hash.find('}');
    std::cout << "password-scheme: "
              << (a.password_hash.rfind('{', 0) == 0 && scheme_end != std::string::npos
                      ? a.password_hash.substr(1, scheme_end - 1)
                      : std::string("CRYPT"))
              << "\n";
    v1::GetAccountRequest g;
    g.set_address(a.address);
    auto acc = metad.CallSync(&v1::Metadata::Stub::GetAccount, g);
    if (acc) {
      std::cout << "storage-used: " << acc->account().quota().storage_used() << "\n";
      std::cout << "messages: " << acc->account().quota().message_used() << "\n";
    } else if (acc.error().kind == ErrorKind::kNotFound) {
      std::cout << "mailstore: not created yet (first delivery or login creates it)\n";
    } else {
      std::cout << "mailstore: " << acc.error().message << "\n";
    }
    return 0;
  }
  if (alias_add->parsed()) {
    auto al = storage::NormalizeAlias(alias_addr);  // local@domain, or @domain for a catch-all
    auto target = normalize(alias_target);
    if (!al || !target) return Die("alias must be local@domain or @domain, target local@domain", 2);
    if (auto res = dir->AddAlias(*al, *target); !res) return Die(res.error().message);
    std::cout << "alias " << *al << " -> " << *target << " added\n";
    return 0;
  }

  // Mailstore views: resolve the account through metad.
  auto addr = normalize(address);
  if (!addr) return Die(addr.error().message, 2);
  v1::GetAccountRequest g;
  g.set_address(*addr);
  auto acc = metad.CallSync(&v1::Metadata::Stub::GetAccount, g);
  if (!acc) return Die(acc.error().message);
  uint64_t account_id = acc->account().account_id();

  if (mailbox_list->parsed()) {
    v1::ListMailboxesRequest req;
    req.set_account_id(account_id);
    req.set_with_counts(true);
    auto res = metad.CallSync(&v1::Metadata::Stub::ListMailboxes, req);
    if (!res) return Die(res.error().message);
    for (const auto& m : res->mailboxes())
      std::cout << m.name() << "\tmessages=" << m.messages() << " unseen=" << m.unseen() << " size=" << m.size()
                << " uidvalidity=" << m.uidvalidity() << " uidnext=" << m.uidnext()
                << " highestmodseq=" << m.highestmodseq() << "\n";
    return 0;
  }

  v1::GetMailboxRequest gm;
  gm.set_account_id(account_id);
  gm.set_name(mailbox_name);
  auto mb = metad.CallSync(&v1::Metadata::Stub::GetMailbox, gm);
  if (!mb) return Die(mb.error().message);

  v1::FetchRequest fr;
  fr.set_account_id(account_id);
  fr.set_mailbox_id(mb->mailbox().mailbox_id());
  auto* range = fr.mutable_uids()->add_ranges();
  range->set_first(message_get->parsed() ? uid : 1);
  range->set_last(message_get->parsed() ? uid : 0);
  fr.set_with_parsed(message_list->parsed());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = metad.stub().Fetch(&ctx, fr);
  v1::FetchResponse page;
  std::vector<v1::MessageMeta> found;
  while (reader->Read(&page))
    for (auto& m : *page.mutable_messages()) found.push_back(std::move(m));
  auto st = reader->Finish();
  if (!st.ok()) return Die(rpc::FromStatus(st).message);

  if (message_list->parsed()) {
    for (const auto& m : found)
      std::cout << m.uid() << "\t" << m.size() << "\tflags=" << m.flags() << "\t" << m.blob_id()
                << "\tmodseq=" << m.modseq() << "\t" << m.parsed().subject() << "\n";
    return 0;
  }
  if (found.empty()) return Die("no message with UID " + std::to_string(uid) + " in " + mailbox_name);
  auto blobs = storage::MakeBlobStore(scfg);
  if (!blobs) return Die(blobs.error().message);
  auto st2 = (*blobs)->Stream(found[0].blob_id(), 0, UINT64_MAX, [](std::string_view chunk) {
    std::fwrite(chunk.data(), 1, chunk.size(), stdout);
    return true;
  });
  if (!st2) return Die(st2.error().message);
  std::fflush(stdout);
  return 0;
}
