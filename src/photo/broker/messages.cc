#include "photo/broker/messages.h"

#include <nlohmann/json.hpp>

namespace photo::broker {

OutgoingMessage MakeJobMessage(const Job& job) {
  nlohmann::json j = {
      {"id", job.id}, {"filename", job.filename}, {"path", job.path}, {"stage", job.stage}};
  OutgoingMessage m;
  m.exchange = "";
  m.routing_key = job.stage;
  m.body = j.dump();
  m.message_id = job.id + ":" + job.stage;
  return m;
}

Result<Job> ParseJob(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_string())
    return InvalidArgumentError("bad_job", "job body is not a JSON object with an id");
  Job job;
  job.id = j["id"].get<std::string>();
  if (j.contains("filename") && j["filename"].is_string()) job.filename = j["filename"];
  if (j.contains("path") && j["path"].is_string()) job.path = j["path"];
  if (j.contains("stage") && j["stage"].is_string()) job.stage = j["stage"];
  return job;
}

}  // namespace photo::broker
