package cosmos

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// The launcher's fixes of @vercel/cosmosdb-server (cosmosserver/launcher.js),
// checked with the SDK the way it fails without them.

func TestLauncherReadMissingItemIs404(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	s := openStore(t, cfg)
	_, err := s.Create(ctx, tre.ResourceHistory, tre.Document{ID: "h1", Data: []byte(`{"id":"h1","resourceId":"r1"}`)})
	require.NoError(t, err)
	history := rawContainer(t, cfg, tre.ResourceHistory)

	_, err = history.ReadItem(ctx, azcosmos.NewPartitionKeyString("r1"), "h1", nil)
	require.NoError(t, err)
	_, err = history.ReadItem(ctx, azcosmos.NewPartitionKeyString("r1"), "missing", nil)
	require.Equal(t, http.StatusNotFound, statusCode(err), "error: %v", err)
	_, err = history.ReadItem(ctx, azcosmos.NewPartitionKeyString("r2"), "h1", nil)
	require.Equal(t, http.StatusNotFound, statusCode(err), "wrong partition key: %v", err)
}

func TestLauncherTransactionalBatch(t *testing.T) {
	ctx := context.Background()
	cfg := newDatabase(t)
	openStore(t, cfg)
	history := rawContainer(t, cfg, tre.ResourceHistory)
	pk := azcosmos.NewPartitionKeyString("r1")
	item := func(id string, v int) []byte {
		b, err := json.Marshal(map[string]any{"id": id, "resourceId": "r1", "v": v})
		require.NoError(t, err)
		return b
	}
	created, err := history.CreateItem(ctx, pk, item("b1", 1), nil)
	require.NoError(t, err)

	// The partition key is only in the header: every kind of operation.
	b := history.NewTransactionalBatch(pk)
	b.CreateItem(item("b2", 2), nil)
	b.ReplaceItem("b1", item("b1", 10), &azcosmos.TransactionalBatchItemOptions{IfMatchETag: &created.ETag})
	b.ReadItem("b2", nil)
	var patch azcosmos.PatchOperations
	patch.AppendIncrement("/v", 5)
	b.PatchItem("b2", patch, nil)
	b.UpsertItem(item("b3", 3), nil)
	b.DeleteItem("b3", nil)
	resp, err := history.ExecuteTransactionalBatch(ctx, b, nil)
	require.NoError(t, err)
	require.True(t, resp.Success)
	var codes []int32
	for _, r := range resp.OperationResults {
		codes = append(codes, r.StatusCode)
	}
	require.Equal(t, []int32{201, 200, 200, 200, 201, 204}, codes)
	require.Equal(t, map[string]float64{"b1": 10, "b2": 7}, values(t, history))

	// A failing operation rolls back those before it: 207, 424 for the others.
	b = history.NewTransactionalBatch(pk)
	b.CreateItem(item("b4", 4), nil)
	b.ReplaceItem("b2", item("b2", 20), nil)
	b.CreateItem(item("b1", 0), nil) // exists
	b.DeleteItem("b1", nil)
	resp, err = history.ExecuteTransactionalBatch(ctx, b, nil)
	require.NoError(t, err)
	require.False(t, resp.Success)
	codes = nil
	for _, r := range resp.OperationResults {
		codes = append(codes, r.StatusCode)
	}
	require.Equal(t, []int32{424, 424, 409, 424}, codes)
	require.Equal(t, map[string]float64{"b1": 10, "b2": 7}, values(t, history), "nothing of the failed batch remains")
	_, err = history.ReadItem(ctx, pk, "b4", nil)
	require.Equal(t, http.StatusNotFound, statusCode(err))

	// Documents created after a rollback get new resource ids (the
	// restored counter must not hand out one still in use).
	_, err = history.CreateItem(ctx, pk, item("b5", 5), nil)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"b1": 10, "b2": 7, "b5": 5}, values(t, history))
}

// values returns the v of every document of the container by id.
func values(t *testing.T, c *azcosmos.ContainerClient) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	pager := c.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		require.NoError(t, err)
		for _, item := range page.Items {
			var d struct {
				ID string  `json:"id"`
				V  float64 `json:"v"`
			}
			require.NoError(t, json.Unmarshal(item, &d))
			out[d.ID] = d.V
		}
	}
	return out
}

func TestLauncherPartitionKeyRanges(t *testing.T) {
	// ReadManyItems reads the partition key ranges, whose numeric id the SDK
	// cannot decode without the fix.
	ctx := context.Background()
	cfg := newDatabase(t)
	s := openStore(t, cfg)
	for _, id := range []string{"a", "b", "c"} {
		_, err := s.Create(ctx, tre.Resources, tre.Document{ID: id, Data: []byte(`{"id":"` + id + `"}`)})
		require.NoError(t, err)
	}
	resp, err := rawContainer(t, cfg, tre.Resources).ReadManyItems(ctx, []azcosmos.ItemIdentity{
		{ID: "a", PartitionKey: azcosmos.NewPartitionKeyString("a")},
		{ID: "c", PartitionKey: azcosmos.NewPartitionKeyString("c")},
	}, nil)
	require.NoError(t, err)
	var ids []string
	for _, item := range resp.Items {
		var d struct{ ID string }
		require.NoError(t, json.Unmarshal(item, &d))
		ids = append(ids, d.ID)
	}
	sort.Strings(ids)
	require.Equal(t, []string{"a", "c"}, ids)
}

func TestLauncherCrossTypeEqualityIsUndefined(t *testing.T) {
	// As in Cosmos: comparing values of different types is undefined, and
	// NOT undefined filters the row out too.
	ctx := context.Background()
	cfg := newDatabase(t)
	s := openStore(t, cfg)
	for _, d := range []string{`{"id":"str","v":"1"}`, `{"id":"num","v":1}`, `{"id":"null","v":null}`, `{"id":"missing"}`} {
		var id struct{ ID string }
		require.NoError(t, json.Unmarshal([]byte(d), &id))
		_, err := s.Create(ctx, tre.Resources, tre.Document{ID: id.ID, Data: []byte(d)})
		require.NoError(t, err)
	}
	resources := rawContainer(t, cfg, tre.Resources)
	query := func(sql string) []string {
		t.Helper()
		var ids []string
		pager := resources.NewQueryItemsPager(sql, azcosmos.NewPartitionKey(), nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			require.NoError(t, err)
			for _, item := range page.Items {
				var d struct{ ID string }
				require.NoError(t, json.Unmarshal(item, &d))
				ids = append(ids, d.ID)
			}
		}
		sort.Strings(ids)
		return ids
	}
	require.Equal(t, []string{"str"}, query(`SELECT * FROM c WHERE c.v = "1"`))
	require.Empty(t, query(`SELECT * FROM c WHERE NOT (c.v = "1")`))
	require.Empty(t, query(`SELECT * FROM c WHERE c.v != "1"`))
	require.Equal(t, []string{"null"}, query(`SELECT * FROM c WHERE c.v = null`))
}
