// The live views of vhostctl: "port stats NAME --watch" (per-queue rates of one port)
// and "top" (busiest cores and ports). Every --interval the view polls the daemon,
// computes rates against the previous poll (client/rates.h) and shows a frame:
//
//   - on a terminal (`tty`), redrawn in place with ANSI escapes (cursor home, erase to
//     the end of each line and below the frame; the cursor hidden meanwhile);
//   - otherwise as plain blocks separated by a blank line;
//   - with -o json as one JSON object per line (JSON lines), never with escapes: each
//     protobuf's JSON of a vhostctl.v1.PortWatchFrame or TopFrame (client/live_view.proto).
//
// It runs until a stop is requested (SIGINT through SignalStopper: exit status 0) or
// until --count refreshes. Time and waiting come from a LiveClock so that tests can run
// the loop on a fake clock.
#ifndef VHOSTD_CLIENT_LIVE_VIEW_H_
#define VHOSTD_CLIENT_LIVE_VIEW_H_

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
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

  // The RPC in flight, which RequestStop() cancels (cancelled at once if a stop was
  // already requested); nullptr once it has returned.
  void SetActiveCall(grpc::ClientContext* context);

 private:
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  grpc::ClientContext* active_call_ = nullptr;
};

// Time as a live view sees it.
class LiveClock {
 public:
  virtual ~LiveClock() = default;
  // The time of a sample: rates divide by the difference of two of these, and frames
  // show it.
  virtual absl::Time Now() = 0;
  // Waits for `duration`; returns early once `stop` is requested.
  virtual void Sleep(absl::Duration duration, StopToken& stop) = 0;
};

// The real clock: wall time advanced by the monotonic clock (so that a clock step does
// not distort a rate), and StopToken::WaitFor.
LiveClock& SystemClock();

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
// refreshes; frames go to `out` (redrawn in place when `tty` and not -o json), errors to
// `err` as "error: CODE_NAME: message". All RPCs of one refresh share a deadline of
// command.timeout from the start of that refresh. Returns the exit status: 0 when stopped
// or done, 1 when an RPC failed (or the output could not be written).
int RunLiveView(const Command& command, const std::string& target,
                const std::shared_ptr<grpc::Channel>& channel, bool tty, LiveClock& clock,
                StopToken& stop, std::ostream& out, std::ostream& err);

}  // namespace vhostctl

#endif  // VHOSTD_CLIENT_LIVE_VIEW_H_
