// Package config owns a site's TOML configuration: it parses the file,
// fills in defaults, checks every value against the role (edge or hub) and
// the kernel's limits, and reports each problem as FILE:LINE:COL with what
// to do, all at once, before anything on the machine is touched.
package config
