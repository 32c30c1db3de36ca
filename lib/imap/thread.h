// thread.h - THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 section 3)
// and the thread response format.
//
// NAME
//   ParseMessageIds, ThreadInput, ThreadRecord, MakeThreadRecord,
//   ThreadForest, ThreadOrderedSubject, ThreadReferences, FormatThreads
//
// SYNOPSIS
//   std::vector<ThreadRecord> recs;  // ascending sequence numbers
//   for (...) recs.push_back(MakeThreadRecord(input));
//   ThreadForest f = ThreadReferences(std::move(recs));
//   std::string line = "* THREAD " + FormatThreads(f);   // "(1 2)(3 (4)(5))"
//
// DESCRIPTION
//   ParseMessageIds returns the "<id-left@id-right>" message ids of a header
//   value, without the brackets and with whitespace and comments inside them
//   dropped; a "<...>" without '@' or with nothing on either side is not a
//   valid Message ID (RFC 5322 msg-id) and is skipped. Ids compare as octets.
//
//   ORDEREDSUBJECT: messages sorted by base subject, then sent date; each run
//   of one base subject is a thread whose first message is the parent of the
//   others; threads ordered by the sent date of their first message.
//
//   REFERENCES: the algorithm of section 3 step by step: (1) link messages
//   through the ids of References (or the first id of In-Reply-To when
//   References holds none), never changing an existing parent in 1.A and
//   re-parenting in 1.B, never making a loop; a message without a valid or
//   with a duplicate Message-ID (not the first with it) gets a unique one;
//   a reference to the message's own id is ignored; (2) parentless
//   containers under the root; (3) dummies pruned (kept at the top level
//   only when they have two or more children); (4) top level sorted by sent
//   date (a dummy by its first child); (5) top-level threads with the same
//   non-empty base subject merged by the rules of 5.B/5.C; (6) every set of
//   siblings sorted by sent date. Sent-date ties go to the lower sequence
//   number.
//
//   FormatThreads writes the thread-list of the response: a chain is
//   "(1 2 3)", a parent with several children "(1 (2)(3))", a dummy parent
//   "((2)(3))".
//
// NEVER
//   Never recurses (deep reply chains are walked with explicit stacks), never
//   does I/O, never throws on malformed input. A loop check costs the smaller
//   of the new parent's depth and the child's subtree (usually O(1)).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace columba::imap {

std::vector<std::string> ParseMessageIds(std::string_view header_value);

struct ThreadInput {
  uint32_t seq = 0;     // sequence number: the tie-breaker
  uint32_t number = 0;  // what the response reports (sequence number or UID), > 0
  int64_t sent_date = 0;  // SentDate() of sort.h: Date header or internal date
  std::string_view subject;      // decoded UTF-8
  std::string_view message_id;   // Message-ID header value ("<a@b>")
  std::string_view in_reply_to;  // In-Reply-To header value
  std::string_view references;   // References header value
};

struct ThreadRecord {
  uint32_t seq = 0;
  uint32_t number = 0;
  int64_t sent = 0;
  std::string subject;  // base subject, folded for comparison
  bool reply_or_forward = false;
  std::string message_id;               // empty: none valid
  std::vector<std::string> references;  // References ids, else the first In-Reply-To id
};

ThreadRecord MakeThreadRecord(const ThreadInput& in);

// number 0 is a dummy (a message that is referenced but not in the result).
struct ThreadForest {
  struct Node {
    uint32_t number = 0;
    std::vector<uint32_t> children;  // indexes into nodes
  };
  std::vector<Node> nodes;
  std::vector<uint32_t> roots;  // indexes into nodes, in response order
};

// Both take the records in ascending sequence-number order.
ThreadForest ThreadOrderedSubject(std::vector<ThreadRecord> records);
ThreadForest ThreadReferences(std::vector<ThreadRecord> records);

std::string FormatThreads(const ThreadForest& forest);

}  // namespace columba::imap
