package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
