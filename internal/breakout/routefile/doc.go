// Package routefile reads and writes seed-format route files: YAML, one
// file per source (AS16509_AMAZON.yml), a list of documents each with a
// header (asn, asn_name, category, name) and its routes. Writing is
// deterministic so that a daily commit of the files diffs only real changes.
package routefile
