package cosmos

import (
	"context"
	"encoding/json"
	"sort"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func TestBuildQuery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		conds  []tre.Cond
		sql    string
		params []any
	}{
		{"all", nil, `SELECT * FROM c`, nil},
		{"eq string", []tre.Cond{tre.Eq("resourceType", "workspace")},
			`SELECT * FROM c WHERE (IS_STRING(c["resourceType"]) AND c["resourceType"] = @p0)`, []any{"workspace"}},
		{"eq nested number", []tre.Cond{tre.Eq("properties.n", 3)},
			`SELECT * FROM c WHERE (IS_NUMBER(c["properties"]["n"]) AND c["properties"]["n"] = @p0)`, []any{3}},
		{"ne bool", []tre.Cond{tre.Ne("isEnabled", true)},
			`SELECT * FROM c WHERE NOT (IS_BOOL(c["isEnabled"]) AND c["isEnabled"] = @p0)`, []any{true}},
		{"in mixed types", []tre.Cond{tre.In[any]("v", "a", 1, "b")},
			`SELECT * FROM c WHERE ((IS_STRING(c["v"]) AND c["v"] IN (@p0, @p2)) OR (IS_NUMBER(c["v"]) AND c["v"] = @p1))`, []any{"a", 1, "b"}},
		{"not in", []tre.Cond{tre.NotIn("s", "deleted", "failed")},
			`SELECT * FROM c WHERE NOT (IS_STRING(c["s"]) AND c["s"] IN (@p0, @p1))`, []any{"deleted", "failed"}},
		{"prefix and eq", []tre.Cond{tre.Prefix("resourcePath", "/workspaces/"), tre.Eq("x", 1.5)},
			`SELECT * FROM c WHERE (IS_STRING(c["resourcePath"]) AND STARTSWITH(c["resourcePath"], @p0)) AND (IS_NUMBER(c["x"]) AND c["x"] = @p1)`,
			[]any{"/workspaces/", 1.5}},
		{"values are never in the text", []tre.Cond{tre.Eq("name", `x' OR 1=1 --"]`)},
			`SELECT * FROM c WHERE (IS_STRING(c["name"]) AND c["name"] = @p0)`, []any{`x' OR 1=1 --"]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sql, params, err := buildQuery(tre.Query{Where: tc.conds})
			require.NoError(t, err)
			require.Equal(t, tc.sql, sql)
			var want []azcosmos.QueryParameter
			for i, v := range tc.params {
				want = append(want, azcosmos.QueryParameter{Name: "@p" + string(rune('0'+i)), Value: v})
			}
			require.Equal(t, want, params)
		})
	}
}

func TestBuildQueryRejectsBadConditions(t *testing.T) {
	for name, c := range map[string]tre.Cond{
		"path with quote":   tre.Eq(`a"]`, "x"),
		"path with space":   tre.Eq("a b", "x"),
		"empty path":        tre.Eq("", "x"),
		"object value":      tre.Eq("a", map[string]any{"x": 1}),
		"nil value":         tre.Eq("a", nil),
		"empty in":          tre.In[string]("a"),
		"non-string prefix": {Path: "a", Op: tre.OpPrefix, Value: 1},
	} {
		_, _, err := buildQuery(tre.Query{Where: []tre.Cond{c}})
		require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err), "%s: %v", name, err)
	}
}

// TestQuerySemantics runs the cases where Cosmos SQL's three-valued logic
// differs from what the store promises: missing fields, null, values of
// another type, and field names that are SQL keywords.
func TestQuerySemantics(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, newDatabase(t))
	for _, d := range []string{
		`{"id":"str","v":"1","value":"a","properties":{"n":"x"}}`,
		`{"id":"num","v":1,"value":"b","properties":{"n":2}}`,
		`{"id":"bool","v":true,"order":1,"properties":null}`,
		`{"id":"null","v":null,"select":"s"}`,
		`{"id":"missing","quote":"x' OR 1=1 --"}`,
		`{"id":"arr","v":[1,"1"],"properties":{"n":[1]}}`,
		`{"id":"obj","v":{"a":1}}`,
	} {
		var id struct{ ID string }
		require.NoError(t, jsonUnmarshal(d, &id))
		_, err := s.Create(ctx, tre.Resources, tre.Document{ID: id.ID, Data: []byte(d)})
		require.NoError(t, err)
	}
	q := func(conds ...tre.Cond) []string {
		t.Helper()
		docs, err := s.Query(ctx, tre.Resources, tre.Query{Where: conds})
		require.NoError(t, err)
		ids := make([]string, 0, len(docs))
		for _, d := range docs {
			ids = append(ids, d.ID)
		}
		sort.Strings(ids)
		return ids
	}
	all := []string{"arr", "bool", "missing", "null", "num", "obj", "str"}
	require.Equal(t, all, q())

	require.Equal(t, []string{"num"}, q(tre.Eq("v", 1)))
	require.Equal(t, []string{"num"}, q(tre.Eq("v", 1.0)), "int and float are one number type")
	require.Equal(t, []string{"arr", "bool", "missing", "null", "obj", "str"}, q(tre.Ne("v", 1)))
	require.Equal(t, []string{"arr", "missing", "null", "obj"}, q(tre.NotIn[any]("v", "1", 1, true)))
	require.Equal(t, []string{"num", "str"}, q(tre.In[any]("v", "1", 1)))
	require.Empty(t, q(tre.In[any]("v", "2", false)))
	require.Equal(t, []string{"str"}, q(tre.Prefix("v", "1")))
	require.Empty(t, q(tre.Prefix("v", "2")))

	// Nested paths through missing, null, array and scalar parents.
	require.Equal(t, []string{"num"}, q(tre.Eq("properties.n", 2)))
	require.Equal(t, []string{"arr", "bool", "missing", "null", "obj", "str"}, q(tre.Ne("properties.n", 2)))
	require.Equal(t, []string{"obj"}, q(tre.Eq("v.a", 1)))

	// Keywords as field names.
	require.Equal(t, []string{"str"}, q(tre.Eq("value", "a")))
	require.Equal(t, []string{"bool"}, q(tre.Eq("order", 1)))
	require.Equal(t, []string{"null"}, q(tre.Eq("select", "s")))
	require.Equal(t, []string{"arr", "bool", "missing", "null", "num", "obj"}, q(tre.Ne("value", "a")))

	// A value is data, never SQL.
	require.Equal(t, []string{"missing"}, q(tre.Eq("quote", "x' OR 1=1 --")))
	require.Empty(t, q(tre.Eq("quote", "x' OR '1'='1")))

	require.Equal(t, []string{"num"}, q(tre.Eq("value", "b"), tre.Ne("v", "1"), tre.In("properties.n", 2, 3)))
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
