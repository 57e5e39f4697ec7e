package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// copyTemplates copies the templates directory, with the sandbox
// workspace also as version 0.2.0 (a second version to upgrade to).
func copyTemplates(t *testing.T) string {
	t.Helper()
	to := t.TempDir()
	require.NoError(t, filepath.WalkDir("../templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../templates", path)
		for _, dst := range []string{filepath.Join(to, rel), filepath.Join(to, strings.Replace(rel, filepath.Join("workspaces", "sandbox"), filepath.Join("workspaces", "sandbox-b"), 1))} {
			if !strings.HasPrefix(rel, filepath.Join("workspaces", "sandbox")) && dst != filepath.Join(to, rel) {
				continue
			}
			if d.IsDir() {
				if err := os.MkdirAll(dst, 0o755); err != nil {
					return err
				}
				continue
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			info, _ := d.Info()
			if strings.HasSuffix(dst, filepath.Join("sandbox-b", "porter.yaml")) {
				b = []byte(strings.Replace(string(b), "\nversion: 0.1.0\n", "\nversion: 0.2.0\n", 1))
			}
			if err := os.WriteFile(dst, b, info.Mode()); err != nil {
				return err
			}
		}
		return nil
	}))
	return to
}

// TestBulkUpgradeEndToEnd upgrades three sandbox workspaces, one of which
// fails its upgrade, through the real program: the batch pauses after the
// failure, resumes and completes; each workspace's history has the
// upgrade; the audit trail says who did it.
func TestBulkUpgradeEndToEnd(t *testing.T) {
	h := startLocal(t, t.TempDir(), map[string]string{"TRE_TEMPLATES_DIR": copyTemplates(t)})
	admin := h.token("TREAdmin", "alice")
	versions := h.do("GET", "/api/workspace-templates/tre-workspace-sandbox/versions", admin, nil).json(t)["versions"].([]any)
	require.Len(t, versions, 2)
	var ws []string
	for i, fail := range []bool{false, true, false} {
		loc := h.mutate("POST", "/api/workspaces", admin, map[string]any{"templateName": "tre-workspace-sandbox",
			"properties": map[string]any{"display_name": "W" + string(rune('0'+i)), "description": "d", "address_space_size": "small", "fail_upgrade": fail}})
		require.Equal(t, "deployed", h.waitOp(loc, admin)["status"])
		ws = append(ws, idFrom(loc, 3))
	}

	r := h.do("POST", "/api/upgrades", admin, map[string]any{"templateName": "tre-workspace-sandbox", "toVersion": "0.2.0"})
	require.Equal(t, 200, r.status, r.body)
	summary := r.json(t)["plan"].(map[string]any)["summary"].(map[string]any)
	require.Equal(t, float64(3), summary["upgrade"])

	loc := h.mutate("POST", "/api/upgrades", admin, map[string]any{"templateName": "tre-workspace-sandbox", "toVersion": "0.2.0",
		"dryRun": false, "maxConcurrent": 1, "stopAfterFailures": 1})
	batch := h.waitBatch(loc, admin, func(b map[string]any) bool { return b["status"] != "running" })
	if batch["status"] == "paused" {
		require.Contains(t, batch["statusMessage"], "paused after 1 failed upgrade(s)")
		require.Equal(t, 200, h.do("POST", loc+"/resume", admin, nil).status)
		batch = h.waitBatch(loc, admin, func(b map[string]any) bool { return b["status"] == "completed" })
	}
	require.Equal(t, "completed", batch["status"])
	counts := batch["counts"].(map[string]any)
	require.Equal(t, float64(2), counts["succeeded"])
	require.Equal(t, float64(1), counts["failed"])
	for _, it := range batch["items"].([]any) {
		item := it.(map[string]any)
		require.NotEmpty(t, item["operationId"])
		if item["resourceId"] == ws[1] {
			require.Equal(t, "failed", item["status"])
			require.Contains(t, item["message"], "fail_upgrade is set")
		}
	}
	hist := h.do("GET", "/api/workspaces/"+ws[0]+"/history", admin, nil).json(t)["resource_history"].([]any)
	require.Equal(t, "0.1.0", hist[len(hist)-1].(map[string]any)["templateVersion"])
	require.Equal(t, "0.2.0", h.do("GET", "/api/workspaces/"+ws[0], admin, nil).json(t)["workspace"].(map[string]any)["templateVersion"])

	trail := h.do("GET", "/api/audit?action=bulk-upgrade", admin, nil).json(t)["records"].([]any)
	require.Len(t, trail, 2, "the plan and the apply")
	require.Equal(t, "alice", trail[0].(map[string]any)["user"].(map[string]any)["name"])
	h.assertAllEnded(admin)
}

// waitBatch polls a bulk upgrade until done says so, within a deadline.
func (h *handler) waitBatch(location, token string, done func(map[string]any) bool) map[string]any {
	h.t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r := h.do("GET", location, token, nil)
		require.Equal(h.t, 200, r.status, r.body)
		b := r.json(h.t)["upgrade"].(map[string]any)
		if done(b) {
			return b
		}
		select {
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("bulk upgrade %s: still %v", location, b["status"])
			return nil
		}
	}
}
