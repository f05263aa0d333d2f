package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// logBuffer collects a child's output; the copying goroutine exec starts
// writes while the bench may read it for an error message.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the start: enough to say why it failed
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// child is a process the bench started (ExaBGP, BIRD, its own announcer):
// stopped once, from its row or from the bench's clean-up.
type child struct {
	cmd    *exec.Cmd
	logs   *logBuffer
	exited chan struct{} // closed when it ended
	once   sync.Once
}

// startChild starts cmd with its output collected. `ip netns exec` execs
// its command in place, so the pid is the command's own.
func startChild(cmd *exec.Cmd) (*child, error) {
	c := &child{cmd: cmd, logs: &logBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	go func() { cmd.Wait(); close(c.exited) }()
	addCleanup(c.stop)
	return c, nil
}

// stop asks politely (SIGTERM), then kills after 3 s.
func (c *child) stop() {
	c.once.Do(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(3 * time.Second):
			c.cmd.Process.Kill()
			<-c.exited
		}
	})
}

func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// peak is the process's VmHWM, read while it still runs.
func (c *child) peak() (int64, error) { return vmHWM(c.cmd.Process.Pid) }

// bird is a BIRD 2 daemon in a namespace with its control socket.
type bird struct {
	*child
	sock string
}

// startBird writes conf into dir and runs BIRD in the foreground in ns,
// then waits until birdc answers.
func startBird(ns, dir, conf string) (*bird, error) {
	path := filepath.Join(dir, ns+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, ns+".ctl")
	c, err := startChild(exec.Command("ip", "netns", "exec", ns, "bird", "-f", "-c", path, "-s", sock))
	if err != nil {
		return nil, err
	}
	b := &bird{child: c, sock: sock}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && c.alive() {
		if _, err := b.birdc("show", "status"); err == nil {
			return b, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.stop()
	return nil, fmt.Errorf("BIRD in %s did not answer: %.300s", ns, c.logs.String())
}

func (b *bird) birdc(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", b.sock}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("birdc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

var birdImported = regexp.MustCompile(`Routes:\s+(\d+) imported`)

// imported is what a protocol's channels hold from its peer, summed over
// families, and whether its BGP session is established. `show protocols
// all` reads counters: unlike `show route count` it does not walk a
// million routes on every poll.
func (b *bird) imported(proto string) (n int, established bool, err error) {
	out, err := b.birdc("show", "protocols", "all", proto)
	if err != nil {
		return 0, false, err
	}
	for _, m := range birdImported.FindAllStringSubmatch(out, -1) {
		k, _ := strconv.Atoi(m[1])
		n += k
	}
	return n, strings.Contains(out, "Established"), nil
}
