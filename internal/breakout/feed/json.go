package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// decodeJSON unmarshals body into v, turning the decoder's byte offsets into
// line:column so a user can find a truncation or a stray byte.
func decodeJSON(format string, body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return perr(format, "", ErrEmpty)
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return perr(format, offsetWhere(body, max(se.Offset-1, 0)), malformed(err))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return perr(format, "$."+te.Field+" at "+offsetWhere(body, te.Offset), malformed(err))
	}
	return perr(format, "", malformed(err))
}

// offsetWhere renders a byte offset as "line L col C" (1-based).
func offsetWhere(body []byte, off int64) string {
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	before := body[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d col %d", line, col)
}
