package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// State is a BFD session state (RFC 5880 §4.1, "Sta").
type State uint8

// Session states, numbered as on the wire.
const (
	StateAdminDown State = 0
	StateDown      State = 1
	StateInit      State = 2
	StateUp        State = 3
)

func (s State) String() string {
	switch s {
	case StateAdminDown:
		return "AdminDown"
	case StateDown:
		return "Down"
	case StateInit:
		return "Init"
	case StateUp:
		return "Up"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Diag is a BFD diagnostic code (RFC 5880 §4.1, "Diag"): why the session
// last changed state.
type Diag uint8

// Diagnostic codes, numbered as on the wire.
const (
	DiagNone                Diag = 0
	DiagControlExpired      Diag = 1
	DiagEchoFailed          Diag = 2
	DiagNeighborDown        Diag = 3
	DiagForwardingReset     Diag = 4
	DiagPathDown            Diag = 5
	DiagConcatPathDown      Diag = 6
	DiagAdminDown           Diag = 7
	DiagReverseConcatPathDn Diag = 8
)

var diagNames = [...]string{
	"None", "ControlDetectionTimeExpired", "EchoFunctionFailed",
	"NeighborSignaledSessionDown", "ForwardingPlaneReset", "PathDown",
	"ConcatenatedPathDown", "AdministrativelyDown", "ReverseConcatenatedPathDown",
}

func (d Diag) String() string {
	if int(d) < len(diagNames) {
		return diagNames[d]
	}
	return fmt.Sprintf("Diag(%d)", uint8(d))
}

// Packet is a BFD Control packet without the optional authentication
// section. Intervals are in microseconds, as on the wire.
type Packet struct {
	Diag        Diag
	State       State
	Poll        bool
	Final       bool
	CPI         bool // control plane independent
	AuthPresent bool
	Demand      bool
	Multipoint  bool
	DetectMult  uint8
	MyDiscr     uint32
	YourDiscr   uint32
	// DesiredMinTx, RequiredMinRx and RequiredMinEchoRx are microseconds.
	DesiredMinTx      uint32
	RequiredMinRx     uint32
	RequiredMinEchoRx uint32
	// Stamp is uplinkd's timestamp trailer (see stamp.go); nil: none.
	Stamp *Stamp
}

const (
	version      = 1
	headerLen    = 24
	maxPacketLen = 255 // the length field is one byte
)

// Errors returned by Unmarshal; each names the RFC 5880 §6.8.6 check that
// failed so that drop counters and debug logs can say why.
var (
	ErrShort      = errors.New("bfd packet shorter than 24 bytes")
	ErrVersion    = errors.New("bfd version is not 1")
	ErrLength     = errors.New("bfd length field invalid")
	ErrDetectMult = errors.New("bfd detect multiplier is zero")
	ErrMultipoint = errors.New("bfd multipoint bit set")
	ErrMyDiscr    = errors.New("bfd my discriminator is zero")
	ErrYourDiscr  = errors.New("bfd your discriminator is zero in state other than down or admindown")
	ErrAuth       = errors.New("bfd authentication present but not supported")
	ErrPollFinal  = errors.New("bfd poll and final bits both set")
)

const (
	flagPoll       = 1 << 5
	flagFinal      = 1 << 4
	flagCPI        = 1 << 3
	flagAuth       = 1 << 2
	flagDemand     = 1 << 1
	flagMultipoint = 1 << 0
)

// Append appends the wire form of p to b.
func (p *Packet) Append(b []byte) []byte {
	b = append(b, version<<5|byte(p.Diag)&0x1f, byte(p.State)<<6|p.flags(), p.DetectMult, headerLen)
	b = binary.BigEndian.AppendUint32(b, p.MyDiscr)
	b = binary.BigEndian.AppendUint32(b, p.YourDiscr)
	b = binary.BigEndian.AppendUint32(b, p.DesiredMinTx)
	b = binary.BigEndian.AppendUint32(b, p.RequiredMinRx)
	b = binary.BigEndian.AppendUint32(b, p.RequiredMinEchoRx)
	if p.Stamp != nil {
		b = p.Stamp.append(b)
	}
	return b
}

// Marshal returns the wire form of p.
func (p *Packet) Marshal() []byte { return p.Append(make([]byte, 0, headerLen)) }

func (p *Packet) flags() byte {
	return bit(p.Poll, flagPoll) | bit(p.Final, flagFinal) | bit(p.CPI, flagCPI) |
		bit(p.AuthPresent, flagAuth) | bit(p.Demand, flagDemand) | bit(p.Multipoint, flagMultipoint)
}

func bit(set bool, f byte) byte {
	if set {
		return f
	}
	return 0
}

// Unmarshal decodes b and applies the checks of RFC 5880 §6.8.6 that do
// not depend on session state. Since no session here uses authentication,
// a packet with the A bit set is refused.
func Unmarshal(b []byte) (Packet, error) {
	if len(b) < headerLen {
		return Packet{}, ErrShort
	}
	if b[0]>>5 != version {
		return Packet{}, ErrVersion
	}
	p := decode(b)
	p.Stamp = decodeStamp(b, int(b[3]))
	return p, p.validate(int(b[3]), len(b))
}

func decode(b []byte) Packet {
	f := b[1]
	return Packet{
		Diag:              Diag(b[0] & 0x1f),
		State:             State(f >> 6),
		Poll:              f&flagPoll != 0,
		Final:             f&flagFinal != 0,
		CPI:               f&flagCPI != 0,
		AuthPresent:       f&flagAuth != 0,
		Demand:            f&flagDemand != 0,
		Multipoint:        f&flagMultipoint != 0,
		DetectMult:        b[2],
		MyDiscr:           binary.BigEndian.Uint32(b[4:]),
		YourDiscr:         binary.BigEndian.Uint32(b[8:]),
		DesiredMinTx:      binary.BigEndian.Uint32(b[12:]),
		RequiredMinRx:     binary.BigEndian.Uint32(b[16:]),
		RequiredMinEchoRx: binary.BigEndian.Uint32(b[20:]),
	}
}

// validate checks the decoded fields; length is the packet's length field
// and received the size of the UDP payload.
func (p *Packet) validate(length, received int) error {
	switch {
	case p.AuthPresent:
		return ErrAuth
	case length < headerLen || length > received:
		return ErrLength
	case p.DetectMult == 0:
		return ErrDetectMult
	case p.Multipoint:
		return ErrMultipoint
	case p.MyDiscr == 0:
		return ErrMyDiscr
	case p.YourDiscr == 0 && p.State != StateDown && p.State != StateAdminDown:
		return ErrYourDiscr
	case p.Poll && p.Final:
		// §6.5: never both; treating it as malformed avoids guessing.
		return ErrPollFinal
	}
	return nil
}
