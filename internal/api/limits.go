package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Limits every request body is held to at decode, before anything else
// reads it: the store refuses JSON nested past ~1000 levels (and would answer
// 503), and a bundle gets every property as an argument or environment
// variable, where a NUL cannot go and one string may not exceed 128 KiB.
const (
	// MaxDepth is how deeply arrays and objects may nest in a body.
	MaxDepth = 64
	// MaxStringBytes is the longest string (member name or value).
	MaxStringBytes = 64 << 10
)

// checkBody walks a JSON body's tokens and refuses nesting deeper than
// MaxDepth and duplicate member names, and with strings, strings longer
// than MaxStringBytes or with NUL; the error names the field by its path
// (properties.a[2].b). A body that is not JSON is left to the decoder to
// describe. Returns CodeInvalid.
func checkBody(body []byte, checkStrings bool) error {
	if withinLimits(body, checkStrings) {
		return nil
	}
	return checkBodyWalk(body, checkStrings)
}

// checkBodyWalk is checkBody by the decoder's tokens.
func checkBodyWalk(body []byte, checkStrings bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := &walker{dec: dec, strings: checkStrings}
	err := w.value("")
	var bad *tre.Error
	if errors.As(err, &bad) {
		return err
	}
	return nil
}

// walker is checkBody's state: the decoder and the nesting depth.
type walker struct {
	dec     *json.Decoder
	depth   int
	strings bool // check strings' length and content
}

func (w *walker) value(path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	return w.token(tok, path)
}

func (w *walker) token(tok json.Token, path string) error {
	switch t := tok.(type) {
	case string:
		return w.checkString(t, path, "value")
	case json.Delim:
		if w.depth++; w.depth > MaxDepth {
			return fieldInvalid(path, "%s nests deeper than %d levels", nameOf(path), MaxDepth)
		}
		defer func() { w.depth-- }()
		if t == '{' {
			return w.object(path)
		}
		if t == '[' {
			return w.array(path)
		}
	}
	return nil
}

func (w *walker) object(path string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		member := key
		if path != "" {
			member = path + "." + key
		}
		if err := w.checkString(key, member, "member name"); err != nil {
			return err
		}
		if seen[key] {
			return fieldInvalid(member, "%s appears twice in its object", nameOf(member))
		}
		seen[key] = true
		if err := w.value(member); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // }
	return err
}

func (w *walker) array(path string) error {
	for i := 0; w.dec.More(); i++ {
		if err := w.value(fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // ]
	return err
}

func (w *walker) checkString(s, path, what string) error {
	switch {
	case !w.strings:
		return nil
	case len(s) > MaxStringBytes:
		return fieldInvalid(path, "%s: the %s is %d bytes, more than the limit of %d", nameOf(path), what, len(s), MaxStringBytes)
	case strings.ContainsRune(s, 0):
		return fieldInvalid(path, "%s: the %s contains a NUL character, which a bundle cannot be given", nameOf(path), what)
	}
	return nil
}

func nameOf(path string) string {
	if path == "" {
		return "The request body"
	}
	return path
}

func fieldInvalid(path, format string, args ...any) error {
	if path == "" {
		return tre.Errorf(tre.CodeInvalid, format, args...)
	}
	return tre.FieldErrorf(tre.CodeInvalid, path, format, args...)
}

// quickKeys is how many member names of one object withinLimits compares
// pairwise; an object with more is left to the walker.
const quickKeys = 32

// withinLimits is checkBody's fast path, a byte scan without tokens or
// allocation per value: true means the walker would find nothing. It gives
// up (false) on whatever it does not decide alone and leaves that to the
// walker, which names the field: malformed JSON, a member name with an
// escape or a byte outside ASCII (the decoder's unescaping and replacement
// of bad UTF-8 decide what it equals), an object of more than quickKeys
// members, a string whose raw form is longer than the limit, \u0000.
func withinLimits(body []byte, checkStrings bool) bool {
	if len(body) > math.MaxInt32 { // member names are int32 offsets
		return false
	}
	s := quickScan{b: body, strings: checkStrings}
	s.i = skipSpace(body, 0)
	for {
		opened, ok := s.value()
		if !ok {
			return false
		}
		if opened {
			continue // at the first value of a nest
		}
		done, ok := s.next()
		if !ok || done {
			return ok
		}
	}
}

// quickScan is withinLimits' state.
type quickScan struct {
	b       []byte
	i       int
	strings bool
	depth   int
	stack   [MaxDepth]int32 // each open object's first name in keys; -1 for an array
	// The open objects' member names, as offsets in b: no pointer, so the
	// scan stays on the stack.
	keys  [quickKeys * 2][2]int32
	nkeys int
}

// value reads the value at s.i: past a scalar or an empty nest, or into a
// nest (opened) at its first value.
func (s *quickScan) value() (opened, ok bool) {
	b := s.b
	if s.i >= len(b) {
		return false, false
	}
	switch c := b[s.i]; c {
	case '{', '[':
		return s.open(c == '{')
	case '"':
		end, plain := scanString(b, s.i, s.strings)
		s.i = end
		return false, end >= 0 && plain
	}
	j := s.i
	for j < len(b) && literalByte(b[j]) {
		j++
	}
	ok = j > s.i
	s.i = j
	return false, ok
}

func (s *quickScan) open(obj bool) (opened, ok bool) {
	if s.depth == MaxDepth {
		return false, false
	}
	s.stack[s.depth] = -1
	if obj {
		s.stack[s.depth] = int32(s.nkeys)
	}
	s.depth++
	s.i = skipSpace(s.b, s.i+1)
	if s.i < len(s.b) && (s.b[s.i] == '}' || s.b[s.i] == ']') {
		s.depth--
		s.i++
		return false, (s.b[s.i-1] == '}') == obj
	}
	if obj {
		return true, s.member()
	}
	return true, true
}

// next goes past the nests a value ends, to the next value (after its
// comma and member name); done at the end of the outermost.
func (s *quickScan) next() (done, ok bool) {
	for s.depth > 0 {
		s.i = skipSpace(s.b, s.i)
		if s.i >= len(s.b) {
			return false, false
		}
		first := s.stack[s.depth-1]
		switch c := s.b[s.i]; {
		case c == ',':
			s.i = skipSpace(s.b, s.i+1)
			return false, first < 0 || s.member()
		case c == '}' && first >= 0:
			s.nkeys = int(first)
		case c == ']' && first < 0:
		default:
			return false, false
		}
		s.depth--
		s.i++
	}
	return true, true
}

// member reads `"name" :` at s.i, to the value; false if the name repeats
// one of its object's or is not plain ASCII, or the object has more than
// quickKeys members.
func (s *quickScan) member() bool {
	b, i, first := s.b, s.i, int(s.stack[s.depth-1])
	if i >= len(b) || b[i] != '"' || s.nkeys-first >= quickKeys || s.nkeys == len(s.keys) {
		return false
	}
	end, plain := scanString(b, i, true)
	if end < 0 || !plain {
		return false
	}
	name := b[i+1 : end-1]
	for _, c := range name {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	for _, k := range s.keys[first:s.nkeys] {
		if bytes.Equal(b[k[0]:k[1]], name) {
			return false
		}
	}
	s.keys[s.nkeys] = [2]int32{int32(i + 1), int32(end - 1)}
	s.nkeys++
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != ':' {
		return false
	}
	s.i = skipSpace(b, j+1)
	return true
}

// scanString returns the end of the string at i (-1 if it has none or
// holds a control character) and whether it is within the limits: no
// \u0000 and, with checkStrings, a raw form no longer than MaxStringBytes,
// or than a third of it with bytes outside ASCII (the decoder replaces each
// byte of bad UTF-8 with U+FFFD, three bytes).
func scanString(b []byte, i int, checkStrings bool) (int, bool) {
	plain, high := true, false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if n := j - i - 1; checkStrings && (n > MaxStringBytes || high && 3*n > MaxStringBytes) {
				plain = false
			}
			return j + 1, plain
		case c >= 0x80:
			high = true
		case c == '\\':
			if j+1 < len(b) && b[j+1] == 'u' && bytes.HasPrefix(b[j+2:], []byte("0000")) {
				plain = false
			}
			j++
		case c < 0x20:
			return -1, false
		}
	}
	return -1, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// literalByte: a byte of a number, true, false or null (the decoder checks
// which).
func literalByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'
}
