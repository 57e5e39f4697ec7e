package lifecycle

import (
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// sortResources orders resources by last update, then id: stable lists.
func sortResources(list []*tre.Resource) {
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].UpdatedWhen != list[j].UpdatedWhen {
			return list[i].UpdatedWhen < list[j].UpdatedWhen
		}
		return list[i].ID < list[j].ID
	})
}

// sortDeepestFirst orders resources by path depth, deepest first, keeping
// the existing order among equals.
func sortDeepestFirst(list []*tre.Resource) {
	sort.SliceStable(list, func(i, j int) bool {
		return strings.Count(list[i].ResourcePath, "/") > strings.Count(list[j].ResourcePath, "/")
	})
}
