// Job and event payloads (JSON, the outside contract).
//
// A job carries at least {"id", "filename", "path"} (compat) plus "stage".
// An event carries {"id", "filename", "status", "content_status", "event_id",
// "renditions", "detections", "completed_at", "error"?}.
#pragma once

#include <string>

#include "photo/broker/publisher.h"
#include "photo/core/status.h"

namespace photo::broker {

struct Job {
  std::string id;
  std::string filename;
  std::string path;   // the original, relative to the data dir (compat field)
  std::string stage;  // queue it is meant for
};

// A persistent job message for `job.stage`'s queue; message_id "<id>:<stage>".
OutgoingMessage MakeJobMessage(const Job& job);

// Parses a job body; kInvalidArgument("bad_job") if it is not a job.
Result<Job> ParseJob(const std::string& body);

}  // namespace photo::broker
