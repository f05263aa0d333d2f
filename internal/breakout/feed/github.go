package feed

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// ParseGitHub parses api.github.com/meta and returns the prefixes listed
// under the chosen keys (e.g. web, api, git, actions). Keys must be named:
// the document also holds SSH keys and domain lists, and "everything" is
// rarely what a breakout wants. The key becomes Service.
func ParseGitHub(body []byte, keys []string) ([]breakout.Entry, error) {
	const format = "github"
	if len(keys) == 0 {
		return nil, perr(format, "", fmt.Errorf("no keys chosen"))
	}
	var doc map[string]json.RawMessage
	if err := decodeJSON(format, body, &doc); err != nil {
		return nil, err
	}
	if _, ok := doc["verifiable_password_authentication"]; !ok {
		return nil, perr(format, "", malformedf("not a GitHub meta document (no verifiable_password_authentication)"))
	}
	var out []breakout.Entry
	for _, k := range slices.Sorted(slices.Values(keys)) {
		es, err := githubKey(doc, k)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

func githubKey(doc map[string]json.RawMessage, key string) ([]breakout.Entry, error) {
	raw, ok := doc[key]
	if !ok {
		return nil, perr("github", "$."+key, fmt.Errorf("%w: key not in feed", ErrNoMatch))
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, perr("github", "$."+key, malformedf("not a list of prefixes"))
	}
	if len(list) == 0 {
		return nil, perr("github", "$."+key, ErrEmpty)
	}
	out := make([]breakout.Entry, 0, len(list))
	for i, s := range list {
		p, err := parsePrefix(s, false)
		if err != nil {
			return nil, perr("github", fmt.Sprintf("$.%s[%d]", key, i), malformedf("%v", err))
		}
		out = append(out, breakout.NewEntry(p, 0, breakout.Attrs{Service: key}))
	}
	return out, nil
}
