package cosmos

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/tre-go/tre/internal/tre"
)

// buildQuery translates q into a parameterized Cosmos SQL query. Values are
// always parameters; field names come from validated path segments and are
// quoted (c["a"]["b"]) so that a field named like a keyword ("value",
// "order") still parses.
//
// Every condition is written so that it evaluates to true or false, never to
// undefined. Cosmos compares values of different types (and anything with a
// missing field) as undefined, and NOT undefined is undefined, which drops
// the row: so "v != 'x'" would miss documents where v is missing, null or a
// number. A type guard fixes that: IS_STRING(v) AND v = @p is false (not
// undefined) when v is not a string, because false AND undefined is false.
// Ne and NotIn are then the plain negation of the guarded Eq and In. The
// guard also makes equality typed on any engine: "1", 1 and true differ.
//
// No ORDER BY and no TOP: the gateway refuses both in cross-partition
// queries from the Go SDK; Limit is applied by the caller.
// Returns CodeInvalid.
func buildQuery(q tre.Query) (string, []azcosmos.QueryParameter, error) {
	b := queryBuilder{}
	var where []string
	for _, cond := range q.Where {
		if err := cond.Validate(); err != nil {
			return "", nil, err
		}
		where = append(where, b.cond(cond))
	}
	sql := "SELECT * FROM c"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	return sql, b.params, nil
}

type queryBuilder struct {
	params []azcosmos.QueryParameter
}

// param adds a parameter and returns its name.
func (b *queryBuilder) param(v any) string {
	name := fmt.Sprintf("@p%d", len(b.params))
	b.params = append(b.params, azcosmos.QueryParameter{Name: name, Value: v})
	return name
}

// cond translates one validated condition.
func (b *queryBuilder) cond(c tre.Cond) string {
	field := fieldExpr(c.PathSegments())
	switch c.Op {
	case tre.OpEq:
		return b.in(field, []any{c.Value})
	case tre.OpNe:
		return "NOT " + b.in(field, []any{c.Value})
	case tre.OpIn:
		return b.in(field, c.Values)
	case tre.OpNotIn:
		return "NOT " + b.in(field, c.Values)
	case tre.OpGe, tre.OpLt:
		cmp := ">="
		if c.Op == tre.OpLt {
			cmp = "<"
		}
		return fmt.Sprintf("(%s(%s) AND %s %s %s)", typeGuard(c.Value), field, field, cmp, b.param(c.Value))
	default: // tre.OpPrefix, the only other operator Validate accepts
		return fmt.Sprintf("(IS_STRING(%s) AND STARTSWITH(%s, %s))", field, field, b.param(c.Value))
	}
}

// in returns the guarded test "field equals one of vs": values are grouped
// by type, each group under its type check, e.g.
// ((IS_STRING(f) AND f IN (@p0, @p1)) OR (IS_NUMBER(f) AND f = @p2)).
func (b *queryBuilder) in(field string, vs []any) string {
	var guards []string
	groups := map[string][]string{}
	for _, v := range vs {
		g := typeGuard(v)
		if _, ok := groups[g]; !ok {
			guards = append(guards, g)
		}
		groups[g] = append(groups[g], b.param(v))
	}
	parts := make([]string, 0, len(guards))
	for _, g := range guards {
		names := groups[g]
		test := field + " = " + names[0]
		if len(names) > 1 {
			test = field + " IN (" + strings.Join(names, ", ") + ")"
		}
		parts = append(parts, fmt.Sprintf("(%s(%s) AND %s)", g, field, test))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// typeGuard returns the Cosmos type-checking function for a validated
// value.
func typeGuard(v any) string {
	switch v.(type) {
	case string:
		return "IS_STRING"
	case bool:
		return "IS_BOOL"
	default: // int, int64, float64
		return "IS_NUMBER"
	}
}

// fieldExpr returns the property access for validated path segments.
func fieldExpr(segs []string) string {
	var sb strings.Builder
	sb.WriteString("c")
	for _, s := range segs {
		sb.WriteString(`["`)
		sb.WriteString(s)
		sb.WriteString(`"]`)
	}
	return sb.String()
}
