package tre

import (
	"bytes"
	"errors"
)

// ErrNotObject: what EachMember walks is not a JSON object.
var ErrNotObject = errors.New("not a JSON object")

// EachMember calls fn with the name (as encoded, quotes included) and the
// encoded value of each top-level member of a JSON object, in order. It
// checks the object's structure, not its values' contents: json.Valid
// does that. fn's error ends the walk and is returned.
func EachMember(doc []byte, fn func(quoted, value []byte) error) error {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return nil
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return ErrNotObject
		}
		end, err := skipValue(doc, i)
		if err != nil {
			return err
		}
		quoted := doc[i:end]
		i = skipSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return ErrNotObject
		}
		start := skipSpace(doc, i+1)
		end, err = skipValue(doc, start)
		if err != nil {
			return err
		}
		if err := fn(quoted, doc[start:end]); err != nil {
			return err
		}
		i = skipSpace(doc, end)
		switch {
		case i < len(doc) && doc[i] == ',':
			i = skipSpace(doc, i+1)
		case i < len(doc) && doc[i] == '}':
			return nil
		default:
			return ErrNotObject
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at i.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrNotObject
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		return skipNested(b, i)
	}
	// A number, true, false or null.
	j := i
	for j < len(b) && !delimiter(b[j]) {
		j++
	}
	if j == i {
		return 0, ErrNotObject
	}
	return j, nil
}

func delimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\n', '\t', '\r':
		return true
	}
	return false
}

// skipString returns the end of the string that starts at i: the first
// quote after it that an odd number of backslashes does not escape.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		escapes := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
	return 0, ErrNotObject
}

// skipNested returns the end of the object or array that starts at i.
func skipNested(b []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, err := skipString(b, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, ErrNotObject
}
