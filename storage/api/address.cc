// address.cc - NormalizeAddress: the one place addresses are canonicalised.
#include <algorithm>
#include <cctype>

#include "storage/api/directory.h"

namespace columba::storage {

Result<std::string> NormalizeAddress(std::string_view address) {
  while (!address.empty() && std::isspace(static_cast<unsigned char>(address.front()))) address.remove_prefix(1);
  while (!address.empty() && std::isspace(static_cast<unsigned char>(address.back()))) address.remove_suffix(1);
  auto at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos)
    return Fail(ErrorKind::kInvalidInput, "address must be local@domain");
  if (address.size() > 254) return Fail(ErrorKind::kInvalidInput, "address longer than 254 octets");
  std::string out(address);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return Fail(ErrorKind::kInvalidInput, "address contains a control character or space");
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace columba::storage
