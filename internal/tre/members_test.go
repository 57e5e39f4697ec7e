package tre

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSkipString(t *testing.T) {
	for in, end := range map[string]int{
		`"" `:         2,
		`"ab",`:       4,
		`"a\"b" `:     6,
		`"a\\" `:      5,
		`"a\\\"b" `:   8,
		`"\\\\",`:     6,
		`"\u0022x"`:   9,
		`"unfinished`: -1,
		`"a\"`:        -1,
		`"a\\\"`:      -1,
	} {
		got, err := skipString([]byte(in), 0)
		if end < 0 {
			require.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		require.Equal(t, end, got, in)
	}
}

// CheckDocument walks a document once: what it refuses, and what it strips.
func TestCheckDocument(t *testing.T) {
	for data, want := range map[string]string{
		`null`:                      "not a JSON object",
		`[]`:                        "not a JSON object",
		`{"id":"d"`:                 "not a JSON object",
		`{"id":"d",}`:               "not a JSON object",
		`{"id":"d","n":1x}`:         "not a JSON object",
		`{"n":1}`:                   `data has id`,
		`{"id":"e"}`:                `data has id "e"`,
		`{"id":1}`:                  `data has id`,
		`{"id":"e","id":"d"}`:       "",
		`{"\u0069d":"d"}`:           "",
		`{"id":"d","_etag":"x"}`:    "",
		`{"id":"d","\u005fts":1}`:   "",
		`{"id":"d","a":{"_ts":1}}`:  "",
		`{"id":"d","resourceId":2}`: "missing partition key /resourceId",
	} {
		c := Resources
		if want == "missing partition key /resourceId" {
			c = ResourceHistory
		}
		out, pk, err := CheckDocument(c, Document{ID: "d", Data: []byte(data)})
		if want != "" {
			require.ErrorContains(t, err, want, data)
			continue
		}
		require.NoError(t, err, data)
		require.Equal(t, "d", pk, data)
		if data == `{"id":"d","a":{"_ts":1}}` {
			require.Equal(t, data, string(out), "nested members are not system fields")
			continue
		}
		require.NotContains(t, string(out), `"_`, data+": system fields stripped")
		require.NotContains(t, string(out), `\u005f`, data)
	}
}

// StripSystemFields copies the other members as they are, in order.
func TestStripSystemFields(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"d","b":[1, 2]}`:                        `{"id":"d","b":[1, 2]}`,
		`{"_etag":"x","id":"d","b":{"_ts":1},"_ts":2}`: `{"id":"d","b":{"_ts":1}}`,
		`{ "id" : "d" , "\u005fetag" : "x" }`:          `{"id":"d"}`,
		`{"_etag":"x"}`:                                `{}`,
		`{"_other":1,"_etag":"x"}`:                     `{"_other":1}`,
	} {
		out, err := StripSystemFields([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, string(out), in)
	}
	_, err := StripSystemFields([]byte(`{"id":}`))
	require.Error(t, err)
}
