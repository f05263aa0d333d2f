// Package feed parses published IP-range feeds (AWS, Google, Cloudflare,
// GitHub, Microsoft 365, plain lists, BGP prefix-to-AS tables) into
// breakout entries. Parsers are strict: a malformed, empty or truncated body
// is an error that says where, never a short list passed off as good.
package feed
