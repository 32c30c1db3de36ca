// probe.cc - the background dependency checks behind /readyz.
#include "storage/factory/probe.h"

namespace columba::storage {

StorageProbe::StorageProbe(const StorageConfig& config, std::shared_ptr<BlobStore> blobs,
                           std::chrono::milliseconds every)
    : blobs_(std::move(blobs)) {
  if (auto d = MakeDirectory(config, false)) directory_ = *d;
  thread_ = std::thread([this, every] {
    const std::string absent(64, '0');
    while (!stop_) {
      directory_ok_ = directory_ && directory_->IsLocalDomain("readiness-probe.invalid").has_value();
      auto b = blobs_->Size(absent);
      blobs_ok_ = b.has_value() || b.error().kind == ErrorKind::kNotFound;
      for (auto waited = std::chrono::milliseconds(0); waited < every && !stop_; waited += std::chrono::milliseconds(100))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

StorageProbe::~StorageProbe() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string StorageProbe::Problem() const {
  if (!directory_ok_) return "directory unreachable";
  if (!blobs_ok_) return "blob store unavailable";
  return "";
}

obs::Readiness StorageProbe::Readiness(bool metad_reachable) const {
  if (!metad_reachable) return obs::Readiness{false, "metad unreachable"};
  if (auto problem = Problem(); !problem.empty()) return obs::Readiness{false, problem};
  return obs::Readiness{true, ""};
}

}  // namespace columba::storage
