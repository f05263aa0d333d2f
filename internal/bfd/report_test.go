package bfd

import (
	"log/slog"
	"testing"
	"time"
)

// blockedWriter holds every write until release is closed.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(b []byte) (int, error) {
	<-w.release
	return len(b), nil
}

// TestChangeReportedBeforeItIsLogged: a session tells its owner of a state
// change (the failover) before it writes the log line, so a log that
// cannot be written (a stalled journal) delays no failover.
func TestChangeReportedBeforeItIsLogged(t *testing.T) {
	w := blockedWriter{release: make(chan struct{})}
	defer close(w.release)
	told := make(chan Change, 1)
	s := &Session{log: slog.New(slog.NewTextHandler(w, nil)), notify: func(c Change) { told <- c }}
	go s.report(Change{Old: StateUp, New: StateDown, Diag: DiagControlExpired})
	select {
	case c := <-told:
		if c.New != StateDown {
			t.Errorf("told %+v, want the change to Down", c)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the owner was not told of the change while its log line could not be written")
	}
}
