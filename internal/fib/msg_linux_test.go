package fib

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseAck(t *testing.T) {
	// An NLMSG_ERROR for seq 7: ENETUNREACH, the capped original header,
	// and the extended-ack text, as the kernel lays it out.
	var m msgBuf
	errno := -int32(unix.ENETUNREACH)
	m.b = binary.NativeEndian.AppendUint32(nil, uint32(errno))
	orig := make([]byte, unix.SizeofNlMsghdr)
	binary.NativeEndian.PutUint32(orig, 60)
	m.b = append(m.b, orig...)
	m.attr(unix.NLMSGERR_ATTR_MSG, append([]byte("Nexthop has invalid gateway"), 0))
	a := parseAck(nlmsg{typ: unix.NLMSG_ERROR, flags: unix.NLM_F_CAPPED | unix.NLM_F_ACK_TLVS, seq: 7, data: m.b})
	if a.seq != 7 || a.errno != unix.ENETUNREACH || a.msg != "Nexthop has invalid gateway" {
		t.Errorf("parseAck = %+v", a)
	}
	// Not capped, and a length that overruns the message: no panic, no text.
	a = parseAck(nlmsg{typ: unix.NLMSG_ERROR, flags: unix.NLM_F_ACK_TLVS, seq: 7, data: m.b})
	if a.errno != unix.ENETUNREACH || a.msg != "" {
		t.Errorf("parseAck of an uncapped ack with a bogus length = %+v", a)
	}
	if a := parseAck(nlmsg{data: []byte{1, 2}}); a.errno != unix.EBADMSG {
		t.Errorf("parseAck of a short message = %+v, want EBADMSG", a)
	}
}

func TestGroupEntriesRoundTrip(t *testing.T) {
	in := []GroupMember{{ID: 1, Weight: 1}, {ID: 2, Weight: 256}, {ID: 3, Weight: 17}}
	got := parseGroup(groupEntries(in))
	for i := range in {
		if got[i] != in[i] {
			t.Errorf("member %d: %+v, want %+v", i, got[i], in[i])
		}
	}
}
