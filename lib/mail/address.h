// address.h - RFC 5322 address-list parser (From, To, Cc, Sender, Reply-To ...).
//
// NAME
//   ParseAddressList, Address, AddressList, AddressLimits
//
// SYNOPSIS
//   AddressList list = ParseAddressList(raw_header_value);
//   for (const Address& a : list.addresses) ...
//
// DESCRIPTION
//   Parses RFC 5322 section 3.4 address lists including the obsolete syntax of
//   section 4.4: display names (atoms, quoted strings, "John Q. Public"),
//   comments anywhere (the comment of "user@host (Name)" becomes the name when
//   there is no display name), angle addresses with obsolete source routes
//   "<@a,@b:user@host>", groups "team: a@x, b@y;" and empty list elements.
//   The result is flat, in the shape of the IMAP ENVELOPE (RFC 3501 7.4.2): a
//   group is a kGroupStart entry, its members, then a kGroupEnd entry.
//
//   Like Dovecot it is liberal: it never fails. Junk between addresses is
//   skipped, a missing '>' or ';' is assumed, a word without '@' becomes a
//   mailbox with an empty host. RFC 2047 encoded-words are kept as written
//   (IMAP sends them raw); use DecodeHeaderText (decode.h) to display them.
//
// DIAGNOSTICS
//   More than limits.max_addresses entries: parsing stops and `truncated` is
//   set (an open group is still closed, so the list stays well formed).
//
// NEVER
//   Never recurses (nested comments use a counter), never reads outside the
//   view, never does more than linear work in the input size.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace columba::mail {

struct Address {
  enum class Kind { kMailbox, kGroupStart, kGroupEnd };
  Kind kind = Kind::kMailbox;
  // Display name (quotes removed, whitespace runs made single spaces,
  // encoded-words raw) or, for kGroupStart, the group name. Empty = none.
  std::string name;
  // Obsolete source route without the trailing ':', e.g. "@a.example,@b.example".
  std::string route;
  // Local part as written without CFWS; a quoted local part keeps its quotes.
  std::string mailbox;
  // Domain (or "[domain literal]"); empty when the address had none.
  std::string host;
};

struct AddressLimits {
  // Entries (mailboxes and group markers) kept per header. A To: header of
  // 64 KiB (ParseLimits::max_header_field_bytes) holds at most ~16k addresses;
  // 10,000 keeps ENVELOPE responses bounded while allowing real mailing lists.
  size_t max_addresses = 10'000;
};

struct AddressList {
  std::vector<Address> addresses;
  bool truncated = false;  // max_addresses was reached
};

AddressList ParseAddressList(std::string_view raw_value, const AddressLimits& limits = {});

}  // namespace columba::mail
