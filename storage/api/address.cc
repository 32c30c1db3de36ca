// address.cc - the one place addresses and domains are canonicalised, for every
// directory backend alike.
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

Result<std::string> NormalizeAsciiAddress(std::string_view address) {
  auto a = NormalizeAddress(address);
  if (!a) return a;
  for (char c : *a)
    if (static_cast<unsigned char>(c) >= 0x80)
      return Fail(ErrorKind::kInvalidInput, "address must be ASCII (internationalised addresses are not supported yet)");
  return a;
}

Result<std::string> NormalizeDomain(std::string_view domain) {
  while (!domain.empty() && std::isspace(static_cast<unsigned char>(domain.front()))) domain.remove_prefix(1);
  while (!domain.empty() && std::isspace(static_cast<unsigned char>(domain.back()))) domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253) return Fail(ErrorKind::kInvalidInput, "domain must be 1 to 253 octets");
  std::string out;
  out.reserve(domain.size());
  char prev = '.';
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    bool ok = std::isalnum(u) || c == '-' || c == '_' || c == '.';
    if (!ok || u >= 0x80) return Fail(ErrorKind::kInvalidInput, "domain contains a character not allowed in a DNS name");
    if (c == '.' && prev == '.') return Fail(ErrorKind::kInvalidInput, "domain has an empty label");
    out += static_cast<char>(std::tolower(u));
    prev = c;
  }
  if (out.back() == '.') return Fail(ErrorKind::kInvalidInput, "domain has an empty label");
  return out;
}

Result<std::string> NormalizeAlias(std::string_view alias) {
  while (!alias.empty() && std::isspace(static_cast<unsigned char>(alias.front()))) alias.remove_prefix(1);
  while (!alias.empty() && std::isspace(static_cast<unsigned char>(alias.back()))) alias.remove_suffix(1);
  if (!alias.starts_with('@')) return NormalizeAsciiAddress(alias);
  // A catch-all: "@" and a domain name, nothing else (no blank after the '@').
  std::string_view rest = alias.substr(1);
  if (rest.empty() || std::isspace(static_cast<unsigned char>(rest.front())))
    return Fail(ErrorKind::kInvalidInput, "a catch-all alias must be @domain");
  auto domain = NormalizeDomain(rest);
  if (!domain) return Fail(ErrorKind::kInvalidInput, "a catch-all alias must be @domain: " + domain.error().message);
  return CatchAllOf(*domain);
}

bool IsCatchAll(std::string_view alias) { return alias.size() > 1 && alias.front() == '@'; }

std::string CatchAllOf(const std::string& domain) { return "@" + domain; }

bool IsOwnAddress(const Account& account, std::string_view address) {
  return account.address == address ||
         std::find(account.aliases.begin(), account.aliases.end(), address) != account.aliases.end();
}

Result<std::vector<std::string>> NormalizeAliases(const std::string& address,
                                                  const std::vector<std::string>& aliases) {
  std::vector<std::string> out;
  for (const auto& raw : aliases) {
    auto alias = NormalizeAlias(raw);
    if (!alias) return tl::unexpected(alias.error());
    if (*alias == address) return Fail(ErrorKind::kInvalidInput, "an alias equals the account's own address");
    if (std::find(out.begin(), out.end(), *alias) == out.end()) out.push_back(*alias);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string DomainOf(const std::string& address) { return address.substr(address.rfind('@') + 1); }

}  // namespace columba::storage
