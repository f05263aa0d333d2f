// Package procstat reads a process's /proc/PID/status: resident memory
// (VmRSS), its peak (VmHWM) and threads, for the daemon's own status and
// for the lab, soak and bench that watch a daemon from outside.
package procstat
