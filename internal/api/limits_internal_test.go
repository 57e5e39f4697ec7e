package api

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// slowCheck is checkBody without its fast path.
func slowCheck(body []byte, checkStrings bool) error {
	return checkBodyWalk(body, checkStrings)
}

// withinLimits decides plain bodies alone, and gives up on every one the
// walker refuses.
func TestWithinLimitsIsTheWalkersFastPath(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	long := `{"a":"` + strings.Repeat("x", MaxStringBytes) + `"}`
	plain := []string{
		`{}`, `[]`, `5`, `"s"`, `null`, ` {"a" : [1, -2.5e3, true, false, null, {"b":"c\"d\\"}], "c": {}} `,
		`{"Data":{"msg":"{\"id\":\"x\",\"status\":\"deployed\"}"},"Metadata":{"a":1,"b":[{"a":1},{"a":2}]}}`,
		deep, long, `{"a":1,"b":{"a":2}}`,
	}
	for _, b := range plain {
		require.True(t, withinLimits([]byte(b), true), "%.80s", b)
		require.NoError(t, slowCheck([]byte(b), true), "%.80s", b)
	}
	refused := []string{
		`{"a":1,"a":2}`, `{"a":{"b":1,"c":[{"d":1,"d":2}]}}`,
		"[" + deep + "]",
		`{"a":"x` + strings.Repeat("y", MaxStringBytes) + `"}`,
		`{"` + strings.Repeat("k", MaxStringBytes+1) + `":1}`,
		`{"a":"\u0000"}`, `["x\u0000y"]`,
		// Within the limit as bytes, past it decoded: each bad byte
		// becomes U+FFFD, three bytes.
		`{"a":"` + strings.Repeat("\xff", MaxStringBytes/2) + `"}`,
		`{"\u0061":1,"a":2}`,
	}
	for _, b := range refused {
		require.False(t, withinLimits([]byte(b), true), "%.80s", b)
		require.Error(t, slowCheck([]byte(b), true), "%.80s", b)
	}
	// Left to the walker, which finds nothing wrong in these.
	for _, b := range []string{`{"é":1}`, `["` + strings.Repeat("é", MaxStringBytes/4) + `"]`, `{"\n":1}`, `{"a":1,"b":2`} {
		require.False(t, withinLimits([]byte(b), true), "%.80s", b)
	}
	// Strings unchecked: long strings and NUL pass the walker.
	require.True(t, withinLimits([]byte(long), false))
	require.NoError(t, slowCheck([]byte(`{"a":"\u0000"}`), false))
}

// Whatever the body, the fast path never passes what the walker refuses.
func FuzzWithinLimits(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `[[[]]]`, `{"a":"\u0000"}`, `{"a":[1,{"b":"c"}]}`, `{"a" 1}`, `{"a":1,}`, `[1,]`} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, checkStrings bool) {
		if withinLimits(body, checkStrings) {
			require.NoError(t, slowCheck(body, checkStrings), "%q", body)
		}
	})
}
