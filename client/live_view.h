// The live views of vhostctl: "port stats NAME --watch" (per-queue rates of one port)
// and "top" (busiest cores and ports). The view holds one WatchEvents stream with a
// stats_interval of --interval: the daemon pushes a StatsSample of every port (or the
// one port) and core each interval, and the events in between keep top's port types
// and states current, so nothing polls port by port. Each sample's rates are computed
// against the one before (client/rates.h, over the daemon's sample times) and shown
// as a frame:
//
//   - on a terminal (`tty`), redrawn in place with ANSI escapes (cursor home, erase to
//     the end of each line and below the frame; the cursor hidden meanwhile);
//   - otherwise as plain blocks separated by a blank line;
//   - with -o json as one JSON object per line (JSON lines), never with escapes: each
//     protobuf's JSON of a vhostctl.v1.PortWatchFrame or TopFrame (client/live_view.proto).
//
// It runs until a stop is requested (SIGINT through SignalStopper: exit status 0) or
// until --count frames.
#ifndef VHOSTD_CLIENT_LIVE_VIEW_H_
#define VHOSTD_CLIENT_LIVE_VIEW_H_

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "client/cli_args.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace vhostctl {

// The escapes of the terminal mode.
inline constexpr char kAnsiHideCursor[] = "\x1b[?25l";
inline constexpr char kAnsiShowCursor[] = "\x1b[?25h";
inline constexpr char kAnsiClearScreen[] = "\x1b[2J";
inline constexpr char kAnsiHome[] = "\x1b[H";
inline constexpr char kAnsiEraseLine[] = "\x1b[K";    // to the end of the line
inline constexpr char kAnsiEraseBelow[] = "\x1b[J";   // from the cursor to the end of the screen

// Asks a running live view to stop, from any thread: wakes its sleep and cancels the
// RPC it is waiting for.
class StopToken {
 public:
  void RequestStop();
  bool stop_requested() const;

  // Waits for `duration`, or less once a stop is requested.
  void WaitFor(absl::Duration duration);

  // A call in flight, which RequestStop() cancels (at once if a stop was already
  // requested), until it is removed (before the context goes away).
  void AddActiveCall(grpc::ClientContext* context);
  void RemoveActiveCall(grpc::ClientContext* context);

 private:
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::set<grpc::ClientContext*> active_calls_;
};

// Turns SIGINT and SIGTERM into stop.RequestStop() for as long as it lives. Create it
// before the gRPC channel: it blocks the signals in the calling thread, which every
// thread started later (gRPC's included) inherits, and waits for them in a thread of its
// own. A second signal, when the view has not stopped yet, ends the process at once
// (status 128 + signal, after showing the cursor on a terminal).
class SignalStopper {
 public:
  explicit SignalStopper(StopToken& stop);
  ~SignalStopper();  // ends the thread and restores the calling thread's signal mask

  SignalStopper(const SignalStopper&) = delete;
  SignalStopper& operator=(const SignalStopper&) = delete;

 private:
  StopToken& stop_;
  sigset_t signals_;
  sigset_t old_mask_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Runs a live view (IsLiveView(command)) over `channel` until `stop` or command.count
// frames; frames go to `out` (redrawn in place when `tty` and not -o json), errors to
// `err` as "error: CODE_NAME: message". Each unary call has a deadline of
// command.timeout; the stream fails with DEADLINE_EXCEEDED when no sample comes within
// --interval plus command.timeout. A watched port that is deleted ends the view with
// NOT_FOUND. Returns the exit status: 0 when stopped or done, 1 when a call failed (or
// the output could not be written).
int RunLiveView(const Command& command, const std::string& target,
                const std::shared_ptr<grpc::Channel>& channel, bool tty, StopToken& stop,
                std::ostream& out, std::ostream& err);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_LIVE_VIEW_H_
