// factory.h - builds the configured storage backends for a service.
//
// Services name backends in config and get interfaces back; this is the only
// place that knows every backend, so services never include one directly.
// Config keys (all services share them; docs/operations.md):
//   blob.backend      fs            (s3 comes later)
//   blob.root         path of the fs blob store (required for fs)
//   directory.backend ldap          (sql and file come later)
//   directory.cache_ttl 30s         TTL of the in-process lookup cache (0 = off)
//   ldap.uris         read replicas in order, nearest first
//   ldap.write_uri    the provider (writes); default: the last of ldap.uris
//   ldap.base_dn      dc=columba
//   ldap.bind_dn      service account DN
//   ldap.bind_password_file  file holding the bind password (never inline in logs)
//   ldap.timeout      5s            network and operation timeout
#pragma once

#include <memory>

#include "lib/base/config.h"
#include "storage/api/blob_store.h"
#include "storage/api/directory.h"

namespace columba::storage {

// Reads the keys above (errors are recorded in the reader; check Finish()).
struct StorageConfig {
  std::string blob_backend;
  std::string blob_root;
  std::string directory_backend;
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

}  // namespace columba::storage
