// Package feed parses published IP-range feeds (AWS, Google, Cloudflare,
// GitHub, Microsoft 365, plain lists, BGP prefix-to-AS tables) into
// breakout entries. Parsers are strict: a malformed, empty or truncated body
// is an error that says where, never a short list passed off as good.
//
// What each parser puts in an Entry besides the prefix:
//
//	aws         Service, Region, NetworkBorderGroup
//	google      Service, Region (cloud.json's service and scope)
//	github      Service (the meta key: web, api, git, actions, ...)
//	m365        Service (serviceArea), Category (Optimize, Allow, Default)
//	pfx2as      ASN (the wanted origin that matched)
//	prefix list nothing (the template's fields)
//
// Spec.Parse then sets Source and fills the route-file header fields
// (ASN, ASNName, Category, Name) the feed left empty from Spec.Meta.
package feed
