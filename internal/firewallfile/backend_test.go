package firewallfile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/firewallfile"
	"github.com/tre-go/tre/internal/firewalltest"
	"github.com/tre-go/tre/internal/tre"
)

func TestBackendConformance(t *testing.T) {
	firewalltest.Run(t, func(t *testing.T) tre.Firewall {
		return &firewallfile.Backend{Path: filepath.Join(t.TempDir(), "rules", "firewall.json")}
	})
}

func TestBackendWritesReadableJSONAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "firewall.json")
	b := &firewallfile.Backend{Path: path}
	ctx := context.Background()

	g := firewalltest.Group("rcg-tre-network", 500)
	g.Collections[0].Owner = tre.RuleOwner{Kind: tre.RuleOwnerResource, ID: "ws-a", Name: "Workspace A"}
	g.Collections[0].OwnerCollection = "nrc_dns"
	require.NoError(t, b.Put(ctx, g))
	require.NoError(t, b.Put(ctx, firewalltest.Group("rcg-tre-application", 510)))

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var content struct {
		Groups []struct {
			Name        string `json:"name"`
			Collections []struct {
				Name  string `json:"name"`
				Owner struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"owner"`
			} `json:"collections"`
		} `json:"groups"`
	}
	require.NoError(t, json.Unmarshal(data, &content))
	require.Len(t, content.Groups, 2)
	require.Equal(t, "rcg-tre-application", content.Groups[0].Name, "sorted by name")
	require.Equal(t, "Workspace A", content.Groups[1].Collections[0].Owner.Name, "an operator can see who owns a rule")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left behind")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	got, err := b.Groups(ctx)
	require.NoError(t, err)
	require.Equal(t, "ws-a", got[1].Collections[0].Owner.ID, "the local backend keeps owner labels")

	require.NoError(t, b.Delete(ctx, "rcg-tre-application"))
	require.NoError(t, b.Delete(ctx, "rcg-tre-network"))
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, `{"groups": []}`, string(data))
}

func TestBackendReportsAnUnreadableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "firewall.json")
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o644))
	b := &firewallfile.Backend{Path: path}
	_, err := b.Groups(context.Background())
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	err = b.Put(context.Background(), firewalltest.Group("rcg-tre-network", 500))
	require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{not json", string(data), "a file it cannot read is not overwritten")
}
