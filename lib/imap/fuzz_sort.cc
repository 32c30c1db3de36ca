// fuzz_sort.cc - libFuzzer target for the untrusted-text parts of SORT:
// RFC 5256 base subjects, sort-key folding, ENVELOPE first addresses and
// address-list texts.
//
// The whole input is a subject, an ENVELOPE wire form and an address text at
// once. Checks: a base subject is never longer than its input, folding never
// grows a string, an envelope field that parsed yields an address only from
// inside the input, and sort records of two such messages compare
// consistently. Never does I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "lib/imap/sort.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

using namespace columba::imap;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);

  BaseSubject b = ExtractBaseSubject(all);
  Check(b.text.size() <= all.size());
  Check(b.text.empty() || (b.text.front() != ' ' && b.text.back() != ' '));
  Check(FoldForSort(all).size() <= all.size());
  Check(FoldForSort(b.text).size() <= b.text.size());

  for (EnvelopeField f : {EnvelopeField::kFrom, EnvelopeField::kSender, EnvelopeField::kReplyTo, EnvelopeField::kTo,
                          EnvelopeField::kCc, EnvelopeField::kBcc}) {
    EnvelopeAddressResult r = ParseEnvelopeAddress(all, f);
    if (r.first) {
      Check(r.well_formed);
      Check(r.first->mailbox.size() <= all.size() && r.first->host.size() <= all.size());
    }
  }
  (void)FirstAddressOfText(all.substr(0, 4096));

  // Two messages from the two halves, sorted by every key both ways.
  const std::string_view h1 = all.substr(0, all.size() / 2), h2 = all.substr(all.size() / 2);
  std::vector<SortSpec> specs;
  for (SortKey k : {SortKey::kSubject, SortKey::kFrom, SortKey::kTo, SortKey::kCc, SortKey::kDisplayFrom,
                    SortKey::kDisplayTo, SortKey::kDate, SortKey::kArrival, SortKey::kSize}) {
    specs.push_back(SortSpec{k, (size & 1) != 0});
  }
  std::vector<SortRecord> recs;
  uint32_t seq = 0;
  for (std::string_view h : {h1, h2, h1}) {
    ++seq;
    SortInput in;
    in.seq = seq;
    in.number = seq;
    in.internal_date = static_cast<int64_t>(h.size());
    in.sent_date = h.empty() ? 0 : static_cast<unsigned char>(h[0]);
    in.size = h.size();
    in.subject = h;
    in.envelope = h;
    in.from = h.substr(0, 1024);
    in.to = h.substr(0, 512);
    in.cc = h;
    recs.push_back(MakeSortRecord(in, specs));
  }
  SortRecords(recs, specs);
  Check(recs.size() == 3);
  // Messages 1 and 3 have equal keys: sequence order keeps 1 before 3.
  size_t pos1 = 0, pos3 = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    if (recs[i].seq == 1) pos1 = i;
    if (recs[i].seq == 3) pos3 = i;
  }
  Check(pos1 < pos3);
  return 0;
}
