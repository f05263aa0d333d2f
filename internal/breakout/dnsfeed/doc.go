// Package dnsfeed resolves the names of a dns breakout source into host
// routes: the A and AAAA answers of each name, CNAMEs followed, each a /32
// or /128 tagged with the name that yielded it, and the shortest TTL seen,
// which says when the answers go bad and must be asked for again.
package dnsfeed
