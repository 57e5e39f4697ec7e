package sqlite

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tre-go/tre/internal/tre"
)

// Each collection's documents have rowids in a range of their own,
// rangeOf(c) to rangeOf(c)+rangeSize, in creation order within it. The
// table's B-tree is ordered by rowid, so a collection's documents share
// pages with each other only: listing 10,000 workspaces reads the pages
// of the resources, not those of the operations and audit records
// created between them (three times as many bytes in a seeded store).
// Continuation tokens are rowids, so the order of a list is the order of
// creation still.
//
// The numbers are part of the file format: never change one, only add.
var collectionRanges = map[tre.Collection]int64{
	tre.Resources:         1,
	tre.ResourceTemplates: 2,
	tre.ResourceHistory:   3,
	tre.Operations:        4,
	tre.TemplateNames:     5,
	tre.WorkspaceUsers:    6,
	tre.Leases:            7,
	tre.FirewallRules:     8,
	tre.Allocations:       9,
	tre.RejectedMessages:  10,
	tre.Agents:            11,
	tre.AirlockRequests:   12,
	tre.AuditRecords:      13,
	tre.UpgradeBatches:    14,
	tre.WorkspaceCatalogs: 15,
}

// rangeSize is the number of rowids of a collection: 2^40, a million
// million documents.
const rangeSize int64 = 1 << 40

// rangeOf is the first rowid of c's range less one; 0 for a collection
// without a range (the store refuses those before it gets here).
func rangeOf(c tre.Collection) int64 { return collectionRanges[c] * rangeSize }

// insertDocument gives a new document the rowid after the last of its
// collection's range: ?1 is rangeOf, ?2 the range's end.
const insertDocument = `INSERT INTO documents (rowid, collection, id, etag, data) VALUES (
	COALESCE((SELECT rowid FROM documents WHERE rowid > ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT 1), ?1) + 1,
	?3, ?4, ?5, ?6)`

// renumberDocuments moves the documents of a file written before the
// ranges (rowids below the first range) into their collection's range,
// keeping their order: a migration, run once.
func renumberDocuments() string {
	names := make([]string, 0, len(collectionRanges))
	for c := range collectionRanges {
		names = append(names, string(c))
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(`UPDATE documents SET rowid = rowid + CASE collection`)
	for _, n := range names {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", n, rangeOf(tre.Collection(n)))
	}
	fmt.Fprintf(&b, " ELSE 0 END WHERE rowid < %d", rangeSize)
	return b.String()
}
