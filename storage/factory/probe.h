// probe.h - readiness of a front-end's storage dependencies, checked off the
// event loop every couple of seconds: the directory (uncached, so the cache
// cannot hide an LDAP outage) and the blob store. Problem() is cheap and safe to
// call from /readyz handlers.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "lib/obs/http_endpoint.h"
#include "storage/factory/factory.h"

namespace columba::storage {

class StorageProbe {
 public:
  StorageProbe(const StorageConfig& config, std::shared_ptr<BlobStore> blobs,
               std::chrono::milliseconds every = std::chrono::seconds(2));
  ~StorageProbe();
  StorageProbe(const StorageProbe&) = delete;
  StorageProbe& operator=(const StorageProbe&) = delete;

  // Empty when healthy, else a short reason for /readyz.
  std::string Problem() const;
  // A front-end's /readyz: metad reachable (checked by the caller: the probe
  // does not own its client), then the directory and the blob store.
  obs::Readiness Readiness(bool metad_reachable) const;

 private:
  std::shared_ptr<BlobStore> blobs_;
  std::shared_ptr<Directory> directory_;  // null when it could not be built
  std::atomic<bool> directory_ok_{true}, blobs_ok_{true}, stop_{false};
  std::thread thread_;
};

}  // namespace columba::storage
