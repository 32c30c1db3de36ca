// factory.cc - config keys -> backend instances; the only file that names every backend.
#include "storage/factory/factory.h"

#include <fstream>

#include "storage/api/caching_directory.h"
#include "storage/blob/fs/fs_blob_store.h"
#include "storage/filedir/file_directory.h"
#include "storage/ldap/ldap_directory.h"
#include "storage/redis/redis_ephemeral.h"
#include "storage/sqldir/sql_directory.h"

namespace columba::storage {

StorageConfig ReadStorageConfig(ConfigReader& r, bool need_blob, bool need_directory) {
  StorageConfig c;
  c.blob_backend = r.Enum("blob", "backend", "fs", {"fs"});
  c.blob_root = r.String("blob", "root", "");
  c.blob_precreate_fanout = r.Bool("blob", "precreate_fanout", false);
  if (need_blob && c.blob_backend == "fs" && c.blob_root.empty())
    r.Invalid("blob", "root", "required for the fs blob store");
  c.directory_backend = r.Enum("directory", "backend", "ldap", {"ldap", "file", "sql"});
  c.directory_file = r.String("directory", "file", "");
  if (need_directory && c.directory_backend == "file" && c.directory_file.empty())
    r.Invalid("directory", "file", "required for the file directory (directory.backend: file)");
  c.directory_cache_ttl = r.Duration("directory", "cache_ttl", std::chrono::seconds(30), std::chrono::seconds(0),
                                     std::chrono::hours(1));
  if (c.directory_backend == "sql") {
    // Read only for sql, so services that never talk to metad keep treating the
    // key as unknown; the default is the one every service uses.
    c.metad_address = r.String("metad", "address", "127.0.0.1:27100");
    c.directory_metad_deadline = r.Duration("directory", "metad_deadline", std::chrono::seconds(5),
                                            std::chrono::milliseconds(100), std::chrono::minutes(5));
    if (need_directory && c.metad_address.empty())
      r.Invalid("metad", "address", "required for the sql directory (directory.backend: sql)");
  }
  c.ldap_uris = r.List("ldap", "uris", {});
  c.ldap_write_uri = r.String("ldap", "write_uri", "");
  c.ldap_base_dn = r.String("ldap", "base_dn", "dc=columba");
  c.ldap_bind_dn = r.String("ldap", "bind_dn", "");
  c.ldap_bind_password_file = r.String("ldap", "bind_password_file", "");
  c.ldap_timeout = r.Duration("ldap", "timeout", std::chrono::seconds(5), std::chrono::milliseconds(100),
                              std::chrono::minutes(5));
  if (need_directory && c.directory_backend == "ldap" && c.ldap_uris.empty() && c.ldap_write_uri.empty())
    r.Invalid("ldap", "uris", "at least one LDAP URI is required");
  return c;
}

Result<std::shared_ptr<BlobStore>> MakeBlobStore(const StorageConfig& c) {
  auto fs = FsBlobStore::Open(c.blob_root, c.blob_precreate_fanout);
  if (!fs) return tl::unexpected(fs.error());
  return std::shared_ptr<BlobStore>(std::move(*fs));
}

Result<std::shared_ptr<Directory>> MakeDirectory(const StorageConfig& c, bool cached) {
  if (c.directory_backend == "file") {
    // No cache: a read is a stat and a lookup in memory, and edits show at once.
    auto file = FileDirectory::Open(c.directory_file);
    if (!file) return tl::unexpected(file.error());
    return std::shared_ptr<Directory>(std::move(*file));
  }
  std::shared_ptr<Directory> out;
  if (c.directory_backend == "sql") {
    auto sql = SqlDirectory::Create({c.metad_address, c.directory_metad_deadline});
    if (!sql) return tl::unexpected(sql.error());
    out = *sql;
    if (cached && c.directory_cache_ttl.count() > 0) out = std::make_shared<CachingDirectory>(out, c.directory_cache_ttl);
    return out;
  }
  LdapDirectoryConfig lc;
  lc.read_uris = c.ldap_uris;
  lc.write_uri = c.ldap_write_uri.empty() ? (c.ldap_uris.empty() ? "" : c.ldap_uris.back()) : c.ldap_write_uri;
  lc.base_dn = c.ldap_base_dn;
  lc.bind_dn = c.ldap_bind_dn;
  if (!c.ldap_bind_password_file.empty()) {
    std::ifstream in(c.ldap_bind_password_file);
    if (!in || !std::getline(in, lc.bind_password))
      return Fail(ErrorKind::kInvalidInput, "ldap.bind_password_file: cannot read " + c.ldap_bind_password_file);
  }
  lc.network_timeout = std::min(c.ldap_timeout, std::chrono::milliseconds(2000));
  lc.operation_timeout = c.ldap_timeout;
  auto dir = LdapDirectory::Create(std::move(lc));
  if (!dir) return tl::unexpected(dir.error());
  out = *dir;
  if (cached && c.directory_cache_ttl.count() > 0) out = std::make_shared<CachingDirectory>(out, c.directory_cache_ttl);
  return out;
}

Result<FrontEndStorage> OpenFrontEndStorage(const StorageConfig& c) {
  auto blobs = MakeBlobStore(c);
  if (!blobs) return Fail(blobs.error().kind, "blob store: " + blobs.error().message);
  auto directory = MakeDirectory(c, true);
  if (!directory) return Fail(directory.error().kind, "directory: " + directory.error().message);
  return FrontEndStorage{std::move(*blobs), std::move(*directory)};
}

EphemeralConfig ReadEphemeralConfig(ConfigReader& r) {
  EphemeralConfig c;
  c.uri = r.String("redis", "uri", "redis://127.0.0.1:6379");
  if (auto a = ParseRedisUri(c.uri); !a) r.Invalid("redis", "uri", a.error().message);
  c.password_file = r.String("redis", "password_file", "");
  c.timeout = r.Duration("redis", "timeout", std::chrono::milliseconds(500), std::chrono::milliseconds(10),
                         std::chrono::seconds(30));
  c.pool_size = static_cast<int>(r.Int("redis", "pool_size", 4, 1, 256));
  c.key_prefix = r.String("redis", "key_prefix", "columba:");
  return c;
}

Result<std::shared_ptr<Ephemeral>> MakeEphemeral(const EphemeralConfig& c, std::string client_name) {
  RedisEphemeralConfig rc;
  rc.uri = c.uri;
  rc.password_file = c.password_file;
  rc.connect_timeout = c.timeout;
  rc.command_timeout = c.timeout;
  rc.pool_size = static_cast<std::size_t>(c.pool_size);
  rc.key_prefix = c.key_prefix;
  rc.client_name = std::move(client_name);
  auto e = RedisEphemeral::Create(std::move(rc));
  if (!e) return Fail(e.error().kind, "redis: " + e.error().message);
  return std::shared_ptr<Ephemeral>(std::move(*e));
}

}  // namespace columba::storage
