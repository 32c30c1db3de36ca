// queue_cmd.h - `columbactl queue list|show|delete`: the operator's view of the
// outbound queue, through metad's Queue service (rpc::QueueClient).
//
// NAME
//   QueueList, QueueShow, QueueDelete - one function per command; each prints to
//   `out`, errors to `err`, and returns the process exit status (0 ok, 1 failed).
// DESCRIPTION
//   list: one line per message, tab-separated, after a header line:
//     ID  SENDER  RECIPIENTS  NEXT ATTEMPT  LAST ERROR
//   (sender as <addr>, "<>" for the null sender; recipients as the first address,
//   "+N" more, and how many are pending; times in UTC; "-" for none). Pages
//   through ListQueue until the end.
//   show ID: every field of the message, then each recipient with its state.
//   delete ID: removes the message and all its recipients.
// NEVER
//   Speaks SQL or reads the blob store; changes anything except on `delete`.
#pragma once

#include <ostream>
#include <string>

#include "lib/rpc/queue_client.h"

namespace columba::ctl {

int QueueList(rpc::QueueClient& q, std::ostream& out, std::ostream& err);
int QueueShow(rpc::QueueClient& q, const std::string& id, std::ostream& out, std::ostream& err);
int QueueDelete(rpc::QueueClient& q, const std::string& id, std::ostream& out, std::ostream& err);

}  // namespace columba::ctl
