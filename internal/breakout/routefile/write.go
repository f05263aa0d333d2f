package routefile

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// header is what one document shares among its routes.
type header struct {
	ASN                     uint32
	ASNName, Category, Name string
}

func headerOf(e breakout.Entry) header {
	a := e.Attrs()
	return header{e.ASN, a.ASNName, a.Category, a.Name}
}

func compareHeader(a, b header) int {
	return cmp.Or(cmp.Compare(a.ASN, b.ASN), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Category, b.Category), cmp.Compare(a.ASNName, b.ASNName))
}

// Write writes entries as a list of documents, one per distinct header,
// headers in (asn, name, category, asn_name) order and routes sorted by
// prefix then fields, duplicates dropped. The Source field is not written.
// The same entries always give the same bytes.
func Write(w io.Writer, entries []breakout.Entry) error {
	root := &yaml.Node{Kind: yaml.SequenceNode}
	for _, g := range groups(entries) {
		root.Content = append(root.Content, documentNode(g))
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent() // "routes:\n  - ip:" as the seed files have it
	if err := enc.Encode(root); err != nil {
		return fmt.Errorf("encode route file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode route file: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// groups splits entries by header, each group's routes sorted and unique.
func groups(entries []breakout.Entry) [][]breakout.Entry {
	es := breakout.SetSource(slices.Clone(entries), "")
	slices.SortFunc(es, func(a, b breakout.Entry) int {
		return cmp.Or(compareHeader(headerOf(a), headerOf(b)), breakout.CompareEntry(a, b))
	})
	es = slices.Compact(es)
	var out [][]breakout.Entry
	for len(es) > 0 {
		h := headerOf(es[0])
		n := 1
		for n < len(es) && headerOf(es[n]) == h {
			n++
		}
		out = append(out, es[:n])
		es = es[n:]
	}
	return out
}

func documentNode(g []breakout.Entry) *yaml.Node {
	h := headerOf(g[0])
	doc := &yaml.Node{Kind: yaml.MappingNode}
	if h.ASN != 0 {
		addField(doc, "asn", strconv.FormatUint(uint64(h.ASN), 10), "!!int")
	}
	addStr(doc, "asn_name", h.ASNName)
	addStr(doc, "category", h.Category)
	addField(doc, "name", h.Name, "!!str")
	routes := &yaml.Node{Kind: yaml.SequenceNode}
	for _, e := range g {
		routes.Content = append(routes.Content, routeNode(e))
	}
	doc.Content = append(doc.Content, scalar("routes", "!!str"), routes)
	return doc
}

func routeNode(e breakout.Entry) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	addField(n, "ip", e.Prefix().String(), "!!str")
	addStr(n, "network_border_group", e.NetworkBorderGroup())
	addStr(n, "region", e.Region())
	addStr(n, "service", e.Service())
	return n
}

// addStr adds a string field, omitted when empty.
func addStr(m *yaml.Node, k, v string) {
	if v != "" {
		addField(m, k, v, "!!str")
	}
}

func addField(m *yaml.Node, k, v, tag string) {
	m.Content = append(m.Content, scalar(k, "!!str"), scalar(v, tag))
}

func scalar(v, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// FileName is the seed-style file name for entries with e's header:
// "AS16509_AMAZON.yml", or "AMAZON.yml" without an ASN. Characters other
// than letters, digits, "-", "_" and "." become "_".
func FileName(e breakout.Entry) string {
	name := e.Name()
	if name == "" {
		name = e.Source()
	}
	if e.ASN != 0 {
		name = fmt.Sprintf("AS%d_%s", e.ASN, name)
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, strings.TrimSuffix(name, ".")) + ".yml"
}
