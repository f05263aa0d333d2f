package routefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// ErrEmpty means the file holds no routes at all, which is never taken as
// "this source has no prefixes".
var ErrEmpty = errors.New("route file has no routes")

// Read parses a route file: a list of documents, a single document mapping,
// or several YAML documents separated by "---". Unknown fields are errors
// (a typo such as "rgion" must not silently drop data), and every problem is
// reported with its line; on any error no entries are returned. Each entry's
// Source is set to source.
func Read(data []byte, source string) ([]breakout.Entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	r := reader{source: source}
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("route file %s: %w", source, err)
		}
		r.top(&n)
	}
	if err := errors.Join(r.errs...); err != nil {
		return nil, fmt.Errorf("route file %s: %w", source, err)
	}
	if len(r.out) == 0 {
		return nil, fmt.Errorf("route file %s: %w", source, ErrEmpty)
	}
	return r.out, nil
}

type reader struct {
	source string
	out    []breakout.Entry
	errs   []error
}

func (r *reader) errf(n *yaml.Node, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("line %d: %s", n.Line, fmt.Sprintf(format, args...)))
}

func (r *reader) top(n *yaml.Node) {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, d := range n.Content {
			r.document(d)
		}
	case yaml.MappingNode:
		r.document(n)
	default:
		r.errf(n, "want a list of documents or one document mapping")
	}
}

// document reads one header mapping and its routes.
func (r *reader) document(n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		r.errf(n, "document is not a mapping")
		return
	}
	var asn uint32
	hdr := breakout.Attrs{Source: r.source}
	var routes *yaml.Node
	r.eachField(n, func(k string, v *yaml.Node) {
		switch k {
		case "asn":
			asn = r.asn(v)
		case "asn_name":
			hdr.ASNName = r.str(k, v)
		case "category":
			hdr.Category = r.str(k, v)
		case "name":
			hdr.Name = r.str(k, v)
		case "routes":
			routes = v
		default:
			r.errf(v, "unknown field %q in document (want asn, asn_name, category, name, routes)", k)
		}
	})
	if routes == nil {
		r.errf(n, "document has no routes")
		return
	}
	if routes.Kind != yaml.SequenceNode {
		r.errf(routes, "routes is not a list")
		return
	}
	for _, rn := range routes.Content {
		r.route(asn, hdr, rn)
	}
}

func (r *reader) route(asn uint32, hdr breakout.Attrs, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		r.errf(n, "route is not a mapping")
		return
	}
	var p netip.Prefix
	a, hasIP := hdr, false
	r.eachField(n, func(k string, v *yaml.Node) {
		switch k {
		case "ip":
			p, hasIP = r.prefix(v), true
		case "network_border_group":
			a.NetworkBorderGroup = r.str(k, v)
		case "region":
			a.Region = r.str(k, v)
		case "service":
			a.Service = r.str(k, v)
		default:
			r.errf(v, "unknown field %q in route (want ip, network_border_group, region, service)", k)
		}
	})
	if !hasIP {
		r.errf(n, "route has no ip")
		return
	}
	if p.IsValid() {
		r.out = append(r.out, breakout.NewEntry(p, asn, a))
	}
}

// eachField calls fn for every key of mapping n, refusing duplicate keys:
// YAML decoders differ on which duplicate wins.
func (r *reader) eachField(n *yaml.Node, fn func(k string, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			r.errf(k, "duplicate field %q", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, v)
	}
}

func (r *reader) str(k string, v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode {
		r.errf(v, "%s is not a scalar", k)
		return ""
	}
	return v.Value
}

func (r *reader) asn(v *yaml.Node) uint32 {
	s := strings.TrimPrefix(strings.ToUpper(v.Value), "AS")
	n, err := strconv.ParseUint(s, 10, 32)
	if v.Kind != yaml.ScalarNode || err != nil {
		r.errf(v, "asn %q is not a number", v.Value)
	}
	return uint32(n)
}

// prefix accepts a prefix or a bare address (a /32 or /128); host bits must
// be clear.
func (r *reader) prefix(v *yaml.Node) netip.Prefix {
	s := v.Value
	if !strings.Contains(s, "/") {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			return netip.PrefixFrom(a, a.BitLen())
		}
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case v.Kind != yaml.ScalarNode || err != nil:
		r.errf(v, "ip %q is not a prefix", s)
		return netip.Prefix{}
	case p != p.Masked():
		r.errf(v, "ip %s has host bits set (network is %s)", p, p.Masked())
		return netip.Prefix{}
	}
	return p
}
