// command.cc - ParseCommand (command.h): POP3 command lines to typed commands.
#include "lib/pop3/command.h"

#include <array>
#include <cctype>
#include <vector>

namespace columba::pop3 {

namespace {

struct VerbEntry {
  std::string_view name;
  Verb verb;
};

constexpr std::array<VerbEntry, 15> kVerbs{{
    {"USER", Verb::kUser}, {"PASS", Verb::kPass}, {"APOP", Verb::kApop}, {"AUTH", Verb::kAuth},
    {"CAPA", Verb::kCapa}, {"STLS", Verb::kStls}, {"QUIT", Verb::kQuit}, {"STAT", Verb::kStat},
    {"LIST", Verb::kList}, {"RETR", Verb::kRetr}, {"DELE", Verb::kDele}, {"NOOP", Verb::kNoop},
    {"RSET", Verb::kRset}, {"TOP", Verb::kTop},   {"UIDL", Verb::kUidl},
}};

Error Syntax(std::string text) { return Error{ErrorKind::kInvalidInput, std::move(text)}; }

// Splits on runs of spaces (RFC 1939: "separated by a single SPACE"; clients that
// send two are tolerated, as every deployed server does).
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsHex(std::string_view s) {
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const char* VerbName(Verb v) {
  for (const auto& e : kVerbs)
    if (e.verb == v) return e.name.data();
  return "UNKNOWN";
}

std::optional<uint32_t> ParseMessageNumber(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0 || n > 0x7fffffffu) return std::nullopt;
  return static_cast<uint32_t>(n);
}

Result<Command> ParseCommand(std::string_view line) {
  for (char c : line)
    if (c == '\r' || c == '\n' || c == '\0') return tl::unexpected(Syntax("Invalid characters in command."));
  size_t sp = line.find(' ');
  std::string_view keyword = line.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  if (keyword.empty()) return tl::unexpected(Syntax("Empty command."));
  if (keyword.size() > 4) return tl::unexpected(Syntax("Unknown command."));
  Command cmd;
  cmd.keyword = Upper(keyword);
  for (const auto& e : kVerbs)
    if (e.name == cmd.keyword) cmd.verb = e.verb;
  if (cmd.verb == Verb::kUnknown) return cmd;

  if (cmd.verb == Verb::kPass) {
    // The whole rest of the line is the password (spaces included); one
    // separating space only.
    if (rest.empty()) return tl::unexpected(Syntax("PASS needs a password."));
    cmd.secret = std::string(rest);
    return cmd;
  }
  auto words = Words(rest);
  auto count = [&](size_t min, size_t max) { return words.size() >= min && words.size() <= max; };
  switch (cmd.verb) {
    case Verb::kCapa:
    case Verb::kStls:
    case Verb::kQuit:
    case Verb::kStat:
    case Verb::kNoop:
    case Verb::kRset:
      if (!words.empty()) return tl::unexpected(Syntax("This command takes no arguments."));
      return cmd;
    case Verb::kUser:
      if (!count(1, 1)) return tl::unexpected(Syntax("USER needs exactly one name."));
      if (words[0].size() > kMaxName) return tl::unexpected(Syntax("Name too long."));
      cmd.name = std::string(words[0]);
      return cmd;
    case Verb::kApop:
      if (!count(2, 2)) return tl::unexpected(Syntax("APOP needs a name and a digest."));
      if (words[0].size() > kMaxName) return tl::unexpected(Syntax("Name too long."));
      if (words[1].size() != 32 || !IsHex(words[1])) return tl::unexpected(Syntax("Invalid APOP digest."));
      cmd.name = std::string(words[0]);
      cmd.secret = Lower(words[1]);
      return cmd;
    case Verb::kAuth:
      // RFC 5034 4: "AUTH" alone lists mechanisms (as CAPA's SASL line does);
      // "AUTH mech [initial-response]".
      if (!count(0, 2)) return tl::unexpected(Syntax("AUTH takes a mechanism and an optional initial response."));
      if (!words.empty()) {
        if (words[0].size() > 20) return tl::unexpected(Syntax("Unknown authentication mechanism."));
        cmd.name = Upper(words[0]);
      }
      if (words.size() == 2) cmd.initial = std::string(words[1]);
      return cmd;
    case Verb::kList:
    case Verb::kUidl:
      if (!count(0, 1)) return tl::unexpected(Syntax("Too many arguments."));
      if (words.size() == 1) {
        cmd.msg = ParseMessageNumber(words[0]);
        if (!cmd.msg) return tl::unexpected(Syntax("Invalid message number."));
      }
      return cmd;
    case Verb::kRetr:
    case Verb::kDele:
      if (!count(1, 1)) return tl::unexpected(Syntax("A message number is required."));
      cmd.msg = ParseMessageNumber(words[0]);
      if (!cmd.msg) return tl::unexpected(Syntax("Invalid message number."));
      return cmd;
    case Verb::kTop: {
      if (!count(2, 2)) return tl::unexpected(Syntax("TOP needs a message number and a line count."));
      cmd.msg = ParseMessageNumber(words[0]);
      if (!cmd.msg) return tl::unexpected(Syntax("Invalid message number."));
      if (words[1] == "0") return cmd;
      auto n = ParseMessageNumber(words[1]);
      if (!n) return tl::unexpected(Syntax("Invalid line count."));
      cmd.lines = *n;
      return cmd;
    }
    default: return cmd;
  }
}

}  // namespace columba::pop3
