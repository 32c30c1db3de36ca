// factory.h - builds the configured storage backends for a service.
//
// Services name backends in config and get interfaces back; this is the only
// place that knows every backend, so services never include one directly.
// Config keys (all services share them; docs/operations.md):
//   blob.backend      fs            (s3 comes later)
//   blob.root         path of the fs blob store (required for fs)
//   directory.backend ldap          ldap | file | sql
//   directory.cache_ttl 30s         TTL of the in-process lookup cache (0 = off; ldap and sql)
//   directory.metad_deadline 5s     per-call deadline of the sql backend's calls to metad
//   metad.address     127.0.0.1:27100  where the sql backend finds metad (read only for sql;
//                                    the same key lmtpd/imapd/columbactl use for mailboxes)
//   ldap.uris         read replicas in order, nearest first
//   ldap.write_uri    the provider (writes); default: the last of ldap.uris
//   ldap.base_dn      dc=columba
//   ldap.bind_dn      service account DN
//   ldap.bind_password_file  file holding the bind password (never inline in logs)
//   ldap.timeout      5s            network and operation timeout
//   redis.uri         redis://127.0.0.1:6379  Ephemeral state (POP-before-SMTP, counters, locks)
//   redis.password_file  file holding the Redis password (optional)
//   redis.timeout     500ms         connect and per-command timeout (fail open/closed: ephemeral.h)
//   redis.pool_size   4             connections at most
//   redis.key_prefix  columba:      prefix of every key
#pragma once

#include <memory>

#include "lib/base/config.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"
#include "storage/api/ephemeral.h"

namespace columba::storage {

// Reads the keys above (errors are recorded in the reader; check Finish()).
struct StorageConfig {
  std::string blob_backend;
  std::string blob_root;
  bool blob_precreate_fanout = false;  // blob.precreate_fanout: lay out every fan-out directory at open
  std::string directory_backend;  // ldap | file | sql
  std::string directory_file;     // directory.file (backend file)
  std::string metad_address;      // metad.address (backend sql)
  std::chrono::milliseconds directory_metad_deadline{5'000};
  std::chrono::milliseconds directory_cache_ttl{30'000};
  std::vector<std::string> ldap_uris;
  std::string ldap_write_uri;
  std::string ldap_base_dn;
  std::string ldap_bind_dn;
  std::string ldap_bind_password_file;
  std::chrono::milliseconds ldap_timeout{5'000};
};
StorageConfig ReadStorageConfig(ConfigReader& r, bool need_blob, bool need_directory);

Result<std::shared_ptr<BlobStore>> MakeBlobStore(const StorageConfig& c);
// `cached` = wrap in the TTL cache (services); the CLI reads uncached.
Result<std::shared_ptr<Directory>> MakeDirectory(const StorageConfig& c, bool cached);

// What every protocol front-end opens at start: the blob store and the cached
// directory. The error names the part that failed.
struct FrontEndStorage {
  std::shared_ptr<BlobStore> blobs;
  std::shared_ptr<Directory> directory;
};
Result<FrontEndStorage> OpenFrontEndStorage(const StorageConfig& c);

// The `redis` section (only services that use Ephemeral state read it).
struct EphemeralConfig {
  std::string uri;
  std::string password_file;
  std::chrono::milliseconds timeout{500};
  int pool_size = 4;
  std::string key_prefix;
};
EphemeralConfig ReadEphemeralConfig(ConfigReader& r);
// Checks the config and reads the password file; does not connect (a Redis that
// is down shows as kUnavailable on each call). `client_name`: CLIENT SETNAME.
Result<std::shared_ptr<Ephemeral>> MakeEphemeral(const EphemeralConfig& c, std::string client_name);

}  // namespace columba::storage
