package procstat

import (
	"os"
	"runtime"
	"testing"
)

// A slice of a real /proc/PID/status (Linux 6.18).
const sample = `Name:	uplinkd
Umask:	0022
State:	S (sleeping)
Tgid:	20872
VmPeak:	 2893144 kB
VmHWM:	  198404 kB
VmRSS:	  161148 kB
Threads:	18
SigQ:	0/95956
Cpus_allowed:	3
Cpus_allowed_list:	0-1
`

func TestParse(t *testing.T) {
	st := parse([]byte(sample))
	if b, ok := st.Bytes("VmRSS"); !ok || b != 161148<<10 {
		t.Errorf("VmRSS = %d %v, want %d", b, ok, 161148<<10)
	}
	if b, _ := st.Bytes("VmHWM"); b != 198404<<10 {
		t.Errorf("VmHWM = %d", b)
	}
	if st["Threads"] != 18 || st["Tgid"] != 20872 {
		t.Errorf("Threads %d, Tgid %d; want 18, 20872", st["Threads"], st["Tgid"])
	}
	for _, k := range []string{"Name", "State", "SigQ", "Cpus_allowed_list"} {
		if _, ok := st[k]; ok {
			t.Errorf("%s read as a number: %d", k, st[k])
		}
	}
}

// TestReadSelf reads this process: pid 0 and its own pid agree on what
// does not move.
func TestReadSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no /proc")
	}
	self, err := Read(0)
	if err != nil {
		t.Fatal(err)
	}
	byPID, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss, ok := self.Bytes("VmRSS"); !ok || rss <= 0 || self["Tgid"] != int64(os.Getpid()) || byPID["Tgid"] != self["Tgid"] {
		t.Errorf("self: rss %d (%v), Tgid %d; by pid: Tgid %d; want both %d", rss, ok, self["Tgid"], byPID["Tgid"], os.Getpid())
	}
}
