package dnsfeed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// queryTimeout bounds one query attempt; a lost UDP datagram is asked
// once more. resolvConf names the resolver when a source sets none.
const (
	queryTimeout = 2 * time.Second
	attempts     = 2
	resolvConf   = "/etc/resolv.conf"
)

// Resolve asks server (host:port; "": the first nameserver of /etc/resolv.conf)
// for the A and AAAA records of each name. A name that does not exist or
// has no addresses contributes nothing; a server that does not answer, or
// answers with an error (SERVFAIL, REFUSED), fails the whole set, so that the
// caller keeps the answers it holds rather than withdraw them on a fault.
// Entries are sorted; minTTL is the shortest TTL on the way to any of them
// (CNAMEs included), 0 when there are none.
func Resolve(ctx context.Context, names []string, server string) (entries []breakout.Entry, minTTL time.Duration, err error) {
	if server == "" {
		if server, err = systemServer(); err != nil {
			return nil, 0, err
		}
	}
	first := true
	for _, name := range names {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
			es, ttl, err := resolveOne(ctx, name, qtype, server)
			if err != nil {
				return nil, 0, fmt.Errorf("resolve %s %s at %s: %w", name, dns.TypeToString[qtype], server, err)
			}
			if len(es) > 0 && (first || ttl < minTTL) {
				minTTL, first = ttl, false
			}
			entries = append(entries, es...)
		}
	}
	breakout.SortEntries(entries) // round-robin order must not look like a change
	return slices.Compact(entries), minTTL, nil
}

// resolveOne asks one question and reads the addresses out of the answer.
func resolveOne(ctx context.Context, name string, qtype uint16, server string) ([]breakout.Entry, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false) // the DNS flag day size: no fragments, rarely truncated
	r, err := exchange(ctx, m, server)
	if err != nil {
		return nil, 0, err
	}
	return answerEntries(r, name, qtype)
}

// answerEntries reads the entries for name out of an answer: a server
// error fails, a name that does not exist yields nothing.
func answerEntries(r *dns.Msg, name string, qtype uint16) ([]breakout.Entry, time.Duration, error) {
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, 0, fmt.Errorf("server answered %s", dns.RcodeToString[r.Rcode])
	}
	addrs, ttl := addresses(r, name, qtype)
	es := make([]breakout.Entry, len(addrs))
	for i, a := range addrs {
		es[i] = breakout.NewEntry(hostPrefix(a), 0, breakout.Attrs{Name: name})
	}
	return es, ttl, nil
}

// exchange sends m over UDP, again over TCP when the answer was truncated.
func exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	r, err := exchangeOver(ctx, "udp", m, server)
	for i := 1; i < attempts && isTimeout(err) && ctx.Err() == nil; i++ {
		r, err = exchangeOver(ctx, "udp", m, server)
	}
	if err == nil && r.Truncated {
		r, err = exchangeOver(ctx, "tcp", m, server)
	}
	return r, err
}

// exchangeOver is one attempt. dns.Client obeys a context's deadline but
// not its cancellation, so a cancel is turned into an expired deadline: a
// source being stopped must not wait out a silent server.
func exchangeOver(ctx context.Context, network string, m *dns.Msg, server string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: queryTimeout}
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	defer context.AfterFunc(ctx, func() { co.SetDeadline(time.Unix(1, 0)) })()
	r, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return r, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// systemServer is the first nameserver of resolvConf, read at each refresh
// so that an edited resolv.conf takes effect without a reload.
func systemServer() (string, error) {
	cc, err := dns.ClientConfigFromFile(resolvConf)
	if err != nil {
		return "", fmt.Errorf("find a resolver: %w", err)
	}
	if len(cc.Servers) == 0 {
		return "", fmt.Errorf("find a resolver: %s names no nameserver", resolvConf)
	}
	return net.JoinHostPort(cc.Servers[0], cc.Port), nil
}
