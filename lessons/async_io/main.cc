// bazel run //lessons/async_io: an echo server four ways (epoll event loop,
// event loop + coroutines, thread per connection, process per connection),
// each loaded with 10, 100 and 1000 concurrent loopback connections by a
// bounded load generator; prints requests/s and the server's memory.

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/proc.h"
#include "common/status_macros.h"
#include "gflags/gflags.h"
#include "lessons/async_io/async_io_lesson.h"

DEFINE_string(connections, "10,100,1000",
              "comma-separated numbers of concurrent connections to try");
DEFINE_int64(requests, 20000,
             "requests per run, after every connection's first one");
DEFINE_int32(message_size, 64, "bytes per request (echoed back and checked)");
DEFINE_double(seconds, 1.0, "time limit of the measured part of each run");
DEFINE_string(csv, "", "if set, also write the table to this CSV file");

namespace multitask::async_io {
namespace {

absl::Status Run() {
  MT_ASSIGN_OR_RETURN(const int64_t fd_limit, RaiseOpenFileLimit());
  std::vector<int> levels;
  for (absl::string_view part : absl::StrSplit(FLAGS_connections, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("--connections: bad number '", part, "'"));
    }
    // The server and this client each hold one descriptor per connection.
    if (n + 64 > fd_limit) {
      return absl::ResourceExhaustedError(absl::StrCat(
          n, " connections need more open files than the limit ", fd_limit,
          " (ulimit -Hn): raise the hard limit or use fewer connections"));
    }
    levels.push_back(n);
  }
  std::cout << "Echo servers on 127.0.0.1 (port 0), " << FLAGS_message_size
            << "-byte requests, every byte checked; open-file limit "
            << fd_limit << ".\n"
            << "Each server runs in a process of its own; memory is its PSS "
               "(with all its worker processes) while every connection is "
               "open.\n\n";
  std::cout << absl::StrFormat("%-32s %6s %12s %12s %10s %9s %9s\n", "model",
                               "conns", "requests/s", "server PSS", "KiB/conn",
                               "threads", "processes");
  std::ofstream csv;
  if (!FLAGS_csv.empty()) {
    csv.open(FLAGS_csv);
    csv << "model,connections,requests_per_s,server_pss_kib,kib_per_conn,"
           "threads,processes\n";
  }
  for (Model model : AllModels()) {
    for (int n : levels) {
      MT_ASSIGN_OR_RETURN(ServerProcess server, StartServerProcess(model));
      // Idle footprint first, to charge each connection only what it adds.
      MT_ASSIGN_OR_RETURN(ServerFootprint idle,
                          MeasureServer(server.process.pid()));
      ServerFootprint busy;
      absl::Status measured;
      LoadOptions options;
      options.connections = n;
      options.requests = FLAGS_requests;
      options.message_size = static_cast<size_t>(FLAGS_message_size);
      options.time_limit = absl::Seconds(FLAGS_seconds);
      options.on_all_answered = [&] {
        absl::StatusOr<ServerFootprint> f = MeasureServer(server.process.pid());
        if (f.ok()) busy = *f;
        measured = f.status();
      };
      absl::StatusOr<LoadResult> load = RunLoad(server.port, options);
      server.stop.Close();
      MT_ASSIGN_OR_RETURN(ExitStatus ended, server.process.Wait());
      MT_RETURN_IF_ERROR(load.status());
      MT_RETURN_IF_ERROR(measured);
      if (!ended.success()) {
        return absl::InternalError(
            absl::StrCat(ModelName(model), " server ", ended.ToString()));
      }
      if (load->mismatches != 0) {
        return absl::DataLossError(absl::StrCat(
            ModelName(model), ": ", load->mismatches, " bytes echoed wrong"));
      }
      const double per_conn =
          static_cast<double>(busy.pss_kib - idle.pss_kib) / n;
      std::cout << absl::StrFormat(
          "%-32s %6d %12.0f %9.1f MiB %10.1f %9d %9d\n", ModelName(model), n,
          load->RequestsPerSecond(), busy.pss_kib / 1024.0, per_conn,
          busy.threads, busy.processes);
      std::cout.flush();
      if (csv.is_open()) {
        csv << '"' << ModelName(model) << "\"," << n << ','
            << load->RequestsPerSecond() << ',' << busy.pss_kib << ','
            << per_conn << ',' << busy.threads << ',' << busy.processes << '\n';
      }
    }
  }
  if (!ChildPids(getpid()).empty()) {
    return absl::InternalError("a server process was left behind");
  }
  std::cout << "\nEvery server shut down cleanly (exit code 0) and was "
               "reaped. One event-loop thread serves 1000 connections; the "
               "other models need 1000 threads or 1000 processes for it.\n";
  if (csv.is_open()) std::cout << "Wrote " << FLAGS_csv << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace multitask::async_io

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Echo server four ways (epoll event loop, coroutines, thread per "
      "connection, process per connection) under a bounded loopback load.\n"
      "Usage: bazel run -c opt //lessons/async_io -- "
      "[--connections=10,100,1000] [--requests=20000] [--seconds=1]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  const absl::Status status = multitask::async_io::Run();
  if (!status.ok()) {
    std::cerr << "async_io: " << status << "\n";
    return 1;
  }
  return 0;
}
