/**
 * Preloaded (`--import`) into every child of `npm start`'s supervisor. The children run in process
 * groups of their own (so a terminal's Ctrl-C reaches the supervisor alone), which also means that
 * nothing stops them when the supervisor itself dies without cleaning up (kill -9, OOM killer).
 * This notices the parent is gone (the child was re-parented) and stops the child the way the
 * supervisor would have: SIGTERM to itself, so its own graceful shutdown runs, then a hard exit if
 * that has not finished within the grace period.
 */
const parent = process.ppid;
const graceMs = 20_000;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  setTimeout(() => process.exit(70), graceMs).unref();
  process.kill(process.pid, 'SIGTERM');
}, 500);
timer.unref();
