// Package firewalltest is the conformance suite of the firewall port
// (tre.Firewall): every adapter runs Run, so that the local and the Azure
// adapters behave alike.
package firewalltest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// Run runs the suite; newBackend returns a fresh backend with no groups for
// each subtest.
func Run(t *testing.T, newBackend func(t *testing.T) tre.Firewall) {
	t.Run("EmptyPolicy", func(t *testing.T) {
		b := newBackend(t)
		groups, err := b.Groups(testContext(t))
		require.NoError(t, err)
		require.Empty(t, groups)
	})

	t.Run("RoundTrip", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		net, app := Group("rcg-test-network", 300), Group("rcg-test-application", 310)
		require.NoError(t, b.Put(ctx, net))
		require.NoError(t, b.Put(ctx, app))

		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"rcg-test-network", "rcg-test-application"}, names(groups))
		got := find(t, groups, "rcg-test-network")
		require.True(t, got.Equal(net), "read back %+v\nwrote %+v", got, net)
		require.Equal(t, int32(300), got.Priority)
		require.Len(t, got.Collections, 2)
		nc := findCollection(t, got, "owner-a.nrc_dns")
		require.Equal(t, int32(1000), nc.Priority)
		require.Equal(t, tre.RuleAllow, nc.Action)
		require.Len(t, nc.NetworkRules, 1)
		require.Equal(t, []string{"53", "8000-8080"}, sorted(nc.NetworkRules[0].DestinationPorts))
		require.Equal(t, []string{"TCP", "UDP"}, sorted(nc.NetworkRules[0].Protocols))
		ac := findCollection(t, got, "owner-a.arc_web")
		require.Len(t, ac.ApplicationRules, 1)
		require.Equal(t, "allow web", ac.ApplicationRules[0].Description)
		require.ElementsMatch(t, []tre.Protocol{{Port: "443", Type: "Https"}, {Port: "80", Type: "Http"}}, ac.ApplicationRules[0].Protocols)
		require.Equal(t, []string{"*.github.com", "github.com"}, sorted(ac.ApplicationRules[0].TargetFQDNs))
		require.True(t, find(t, groups, "rcg-test-application").Equal(app))
	})

	t.Run("PutReplacesTheWholeGroup", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		g := Group("rcg-test-network", 300)
		require.NoError(t, b.Put(ctx, g))
		g.Collections = g.Collections[1:]
		g.Priority = 320
		require.NoError(t, b.Put(ctx, g))

		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.Len(t, groups, 1)
		require.Equal(t, int32(320), groups[0].Priority)
		require.Len(t, groups[0].Collections, 1)
		require.True(t, groups[0].Equal(g))
	})

	t.Run("PutIgnoresProvisioningState", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		g := Group("rcg-test-network", 300)
		g.ProvisioningState = "Failed"
		require.NoError(t, b.Put(ctx, g))
		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.Len(t, groups, 1)
		require.Empty(t, groups[0].ProvisioningState, "a group just written has settled")
		g.ProvisioningState = ""
		require.True(t, groups[0].Equal(g))
	})

	t.Run("NamesIgnoreCase", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		require.NoError(t, b.Put(ctx, Group("rcg-Test-Case", 300)))
		require.NoError(t, b.Put(ctx, Group("RCG-test-case", 330)))
		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.Len(t, groups, 1)
		require.Equal(t, int32(330), groups[0].Priority)
		require.NoError(t, b.Delete(ctx, "rcg-test-CASE"))
		groups, err = b.Groups(ctx)
		require.NoError(t, err)
		require.Empty(t, groups)
	})

	t.Run("Delete", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		require.NoError(t, b.Put(ctx, Group("rcg-a", 300)))
		require.NoError(t, b.Put(ctx, Group("rcg-b", 310)))
		require.NoError(t, b.Delete(ctx, "rcg-a"))
		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"rcg-b"}, names(groups))
		require.NoError(t, b.Delete(ctx, "rcg-a"), "deleting a group that is gone succeeds")
		require.NoError(t, b.Delete(ctx, "rcg-never-existed"))
		groups, err = b.Groups(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"rcg-b"}, names(groups))
	})

	t.Run("RefusesInvalidGroups", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		mixed := Group("rcg-mixed", 300)
		mixed.Collections[0].ApplicationRules = Group("x", 300).Collections[1].ApplicationRules
		badPriority := Group("rcg-priority", 70000)
		badName := Group("rcg bad name", 300)
		for _, g := range []tre.RuleCollectionGroup{mixed, badPriority, badName} {
			err := b.Put(ctx, g)
			require.Error(t, err, g.Name)
			require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err), "%s: %v", g.Name, err)
		}
		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.Empty(t, groups)
	})

	t.Run("KeepsNoCallerSlices", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		g := Group("rcg-test-network", 300)
		want := g.Clone()
		require.NoError(t, b.Put(ctx, g))
		g.Collections[0].NetworkRules[0].DestinationPorts[0] = "1"
		g.Collections[0].Name = "changed"

		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.Len(t, groups, 1)
		require.True(t, groups[0].Equal(want))
		groups[0].Collections[0].NetworkRules = nil
		groups[0].Collections[1].ApplicationRules[0].TargetFQDNs[0] = "evil.example.com"

		again, err := b.Groups(ctx)
		require.NoError(t, err)
		require.True(t, again[0].Equal(want))
	})

	t.Run("ManyGroups", func(t *testing.T) {
		ctx, b := testContext(t), newBackend(t)
		var want []string
		for i := range 7 {
			name := fmt.Sprintf("rcg-many-%d", i)
			want = append(want, name)
			require.NoError(t, b.Put(ctx, Group(name, int32(300+i))))
		}
		groups, err := b.Groups(ctx)
		require.NoError(t, err)
		require.ElementsMatch(t, want, names(groups))
	})
}

// Group returns a valid group with one network and one application
// collection that use every field of the model.
func Group(name string, priority int32) tre.RuleCollectionGroup {
	return tre.RuleCollectionGroup{
		Name:     name,
		Priority: priority,
		Collections: []tre.RuleCollection{
			{
				Name: "owner-a.nrc_dns", Priority: 1000, Action: tre.RuleAllow,
				NetworkRules: []tre.NetworkRule{{
					Name:                  "allow-dns",
					Description:           "dns and a port range",
					SourceAddresses:       []string{"10.1.0.0/24", "10.2.0.1-10.2.0.9"},
					SourceIPGroupIDs:      []string{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/ipGroups/ipg-src"},
					DestinationAddresses:  []string{"168.63.129.16", "AzureCloud.westeurope"},
					DestinationIPGroupIDs: []string{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/ipGroups/ipg-dst"},
					DestinationFQDNs:      []string{"dns.example.com"},
					DestinationPorts:      []string{"53", "8000-8080"},
					Protocols:             []string{"UDP", "TCP"},
				}},
			},
			{
				Name: "owner-a.arc_web", Priority: 1010, Action: tre.RuleAllow,
				ApplicationRules: []tre.ApplicationRule{{
					Name:             "allow-github",
					Description:      "allow web",
					Protocols:        []tre.Protocol{{Port: "443", Type: "Https"}, {Port: "80", Type: "Http"}},
					TargetFQDNs:      []string{"github.com", "*.github.com"},
					SourceAddresses:  []string{"10.1.0.0/24"},
					SourceIPGroupIDs: []string{"/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/ipGroups/ipg-src"},
				}},
			},
		},
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func names(groups []tre.RuleCollectionGroup) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g.Name)
	}
	return out
}

func find(t *testing.T, groups []tre.RuleCollectionGroup, name string) tre.RuleCollectionGroup {
	t.Helper()
	for _, g := range groups {
		if g.Name == name {
			return g
		}
	}
	require.FailNow(t, "group not found", "%s in %v", name, names(groups))
	return tre.RuleCollectionGroup{}
}

func findCollection(t *testing.T, g tre.RuleCollectionGroup, name string) tre.RuleCollection {
	t.Helper()
	for _, c := range g.Collections {
		if c.Name == name {
			return c
		}
	}
	require.FailNow(t, "collection not found", "%s in group %s", name, g.Name)
	return tre.RuleCollection{}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
