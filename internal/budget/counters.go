package budget

// Sample is one reading of an interface's byte counters.
type Sample struct {
	Bytes uint64 // received + sent, since the interface was created
	// Index is the interface's index: a re-created interface gets a new
	// one, and its counters start again from 0.
	Index int
}

// Reader reads an interface's counters by name.
type Reader interface {
	Read(ifname string) (Sample, error)
}

// ReaderFunc adapts a function to Reader.
type ReaderFunc func(ifname string) (Sample, error)

// Read calls f.
func (f ReaderFunc) Read(ifname string) (Sample, error) { return f(ifname) }
