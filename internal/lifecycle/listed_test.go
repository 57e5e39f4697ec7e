package lifecycle

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// TestEachMember: the members of a stored document, values as they are
// encoded, whatever they hold; malformed documents are refused.
func TestEachMember(t *testing.T) {
	doc := `{"id":"a\"b","n":-1.5e3,"t":true,"z":null,"o":{"k":["}",{"]":"\\\""}]},"e":[] , "w\u00e9":"x"}`
	var names []string
	var values []string
	require.NoError(t, eachMember([]byte(doc), func(name string, value []byte) error {
		names = append(names, name)
		values = append(values, string(value))
		require.True(t, json.Valid(value), "%s: %s", name, value)
		return nil
	}))
	require.Equal(t, []string{"id", "n", "t", "z", "o", "e", "wé"}, names)
	require.Equal(t, []string{`"a\"b"`, `-1.5e3`, `true`, `null`, `{"k":["}",{"]":"\\\""}]}`, `[]`, `"x"`}, values)

	for _, bad := range []string{``, `[]`, `{"a"}`, `{"a":}`, `{"a":1`, `{"a":"x}`, `{"a":1,}`, `{a:1}`, `{"a":{"b":1}`} {
		err := eachMember([]byte(bad), func(string, []byte) error { return nil })
		require.Error(t, err, "%q", bad)
	}
	require.NoError(t, eachMember([]byte(` { } `), func(string, []byte) error { t.Fatal("no member"); return nil }))

	l, err := listedOf(tre.Document{ID: "r", ETag: "e", Data: []byte(`{"id":"r","resourceType":"user-resource","templateName":"t\u00e9","ownerId":null,"properties":{"x":1}}`)})
	require.NoError(t, err)
	require.Equal(t, tre.TypeUserResource, l.ResourceType)
	require.Equal(t, "té", l.TemplateName)
	require.Empty(t, l.OwnerID)
	require.JSONEq(t, `{"x":1}`, string(l.Member("properties")))
	require.Nil(t, l.Member("nothing"))
	full, err := l.Resource()
	require.NoError(t, err)
	require.Equal(t, "e", full.ETag)
	require.Equal(t, map[string]any{"x": 1.0}, full.Properties)
}

// HasMember finds top-level members only, however the name is spelt.
func TestHasMember(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"scope_id":"x"}`:              true,
		`{"a":1,"scope_id":null}`:       true,
		`{"scope\u005fid":1}`:           true,
		`{"a":{"scope_id":1}}`:          false,
		`{"a":"\"scope_id\":1"}`:        false,
		`{"scope_idx":1,"xscope_id":2}`: false,
		`{}`:                            false,
		`[]`:                            false,
		`{"a\"":1}`:                     false,
	} {
		require.Equal(t, want, HasMember([]byte(doc), "scope_id"), doc)
	}
}
