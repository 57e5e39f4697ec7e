package costmanagement

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/costmanagement/armcostmanagement"

	"github.com/tre-go/tre/internal/tre"
)

// rowsOf reads a query answer by its columns' names, attributes each
// untagged row to its resource group's tag, and sums the rows of one day,
// group, tag and currency (AzureTRE's summarize_untagged). Rows are in the
// order they first appear.
func rowsOf(p *armcostmanagement.QueryProperties, granularity string, groups map[string]tre.CostTag) ([]tre.CostRow, error) {
	col := map[string]int{}
	for i, c := range p.Columns {
		if c != nil && c.Name != nil {
			col[*c.Name] = i
		}
	}
	costCol, ok := col["PreTaxCost"]
	if !ok {
		if costCol, ok = col["Cost"]; !ok {
			return nil, fmt.Errorf("costmanagement: the answer has no PreTaxCost column")
		}
	}
	type key struct {
		date     time.Time
		group    string
		tag      tre.CostTag
		currency string
	}
	sums := map[key]*tre.CostRow{}
	var order []key
	for _, row := range p.Rows {
		str := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(row) {
				return ""
			}
			s, _ := row[i].(string)
			return s
		}
		cost, _ := number(row, costCol)
		group := str("ResourceGroup")
		tag, ok := parseTag(str("Tag"))
		if !ok {
			if tag, ok = groups[group]; !ok {
				continue // untagged, outside the TRE's groups
			}
		}
		k := key{group: group, tag: tag, currency: str("Currency")}
		if granularity == tre.GranularityDaily {
			if i, ok := col["UsageDate"]; ok {
				d, _ := number(row, i)
				k.date, _ = time.Parse("20060102", strconv.FormatInt(int64(d), 10))
			}
		}
		if r, ok := sums[k]; ok {
			r.Cost += cost
			continue
		}
		sums[k] = &tre.CostRow{Tag: tag, ResourceGroup: group, Cost: cost, Currency: k.currency, Date: k.date}
		order = append(order, k)
	}
	out := make([]tre.CostRow, 0, len(order))
	for _, k := range order {
		out = append(out, *sums[k])
	}
	return out, nil
}

func number(row []any, i int) (float64, bool) {
	if i >= len(row) {
		return 0, false
	}
	switch v := row[i].(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// parseTag reads Cost Management's tag column, `"name":"value"`; empty
// for untagged costs.
func parseTag(s string) (tre.CostTag, bool) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return tre.CostTag{}, false
	}
	name, value = strings.Trim(name, `"`), strings.Trim(value, `"`)
	if name == "" {
		return tre.CostTag{}, false
	}
	return tre.CostTag{Name: name, Value: value}, true
}

func sortedKeys(m map[string]tre.CostTag) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
