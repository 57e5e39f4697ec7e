package tre

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPointers(t *testing.T) {
	doc := map[string]any{"a": map[string]any{"b/c": []any{1.0, map[string]any{"x~y": "v"}}}, "s": "top"}
	p := Pointer("a", "b/c", "1", "x~y")
	require.Equal(t, "/a/b~1c/1/x~0y", p)
	v, ok := PointerGet(doc, p)
	require.True(t, ok)
	require.Equal(t, "v", v)
	require.True(t, PointerSet(doc, p, Redacted))
	v, _ = PointerGet(doc, p)
	require.Equal(t, Redacted, v)
	require.True(t, PointerSet(doc, "/s", "new"))
	require.False(t, PointerSet(doc, "/missing", 1))
	require.False(t, PointerSet(doc, "/a/b~1c/9", 1))
	_, ok = PointerGet(doc, "/a/nope")
	require.False(t, ok)
	whole, ok := PointerGet(doc, "")
	require.True(t, ok)
	require.Equal(t, doc, whole)
}

func TestCheckSecretName(t *testing.T) {
	require.NoError(t, CheckSecretName("r-0123-abc"))
	for _, bad := range []string{"", "a_b", "a/b", string(make([]byte, 128))} {
		require.Error(t, CheckSecretName(bad))
	}
}
