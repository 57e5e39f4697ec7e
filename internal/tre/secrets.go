package tre

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Secrets is the port of the secret store that holds sensitive template
// properties: the configuration store keeps only references (a resource's
// SecretRefs) and the Resource Processor resolves them just before running
// a bundle. Azure: Key Vault; local: an encrypted file in the data
// directory.
type Secrets interface {
	// Put stores value under name, replacing any previous value.
	// Returns CodeInvalid for a bad name.
	Put(ctx context.Context, name, value string) error
	// Get returns the value stored under name. Returns CodeNotFound.
	Get(ctx context.Context, name string) (string, error)
	// Delete removes name; deleting a missing name is not an error.
	Delete(ctx context.Context, name string) error
}

var secretName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9-]{1,127}$`) })

// CheckSecretName validates a secret name: 1 to 127 letters, digits and
// dashes, which Key Vault also accepts. Returns CodeInvalid.
func CheckSecretName(name string) error {
	if !secretName().MatchString(name) {
		return Errorf(CodeInvalid, "secret name %q must be 1 to 127 letters, digits or dashes", name)
	}
	return nil
}

// Redacted replaces a sensitive value wherever it would otherwise be stored
// or shown (AzureTRE's marker).
const Redacted = "REDACTED"

// PointerGet returns the value at a JSON pointer (RFC 6901, "/a/b/0") in a
// JSON-shaped value.
func PointerGet(doc any, pointer string) (any, bool) {
	cur := doc
	for _, seg := range pointerSegments(pointer) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// PointerSet replaces the value at an existing JSON pointer in place and
// reports whether it found it. The root ("") cannot be set.
func PointerSet(doc any, pointer string, v any) bool {
	segs := pointerSegments(pointer)
	if len(segs) == 0 {
		return false
	}
	parent, ok := PointerGet(doc, Pointer(segs[:len(segs)-1]...))
	if !ok {
		return false
	}
	last := segs[len(segs)-1]
	switch p := parent.(type) {
	case map[string]any:
		if _, ok := p[last]; !ok {
			return false
		}
		p[last] = v
		return true
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(p) {
			return false
		}
		p[i] = v
		return true
	}
	return false
}

// Pointer builds a JSON pointer from path segments.
func Pointer(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

func pointerSegments(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}
