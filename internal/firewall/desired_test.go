package firewall

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// owned returns an owner with one valid rule in each named collection.
func owned(kind tre.RuleOwnerKind, id string, appCollections, netCollections []string) Owned {
	o := Owned{Owner: tre.RuleOwner{Kind: kind, ID: id, Name: "display " + id, ResourceType: "workspace-service", ResourcePath: "/workspaces/w/workspace-services/" + id}}
	for _, name := range appCollections {
		o.Rules.ApplicationRuleCollections = append(o.Rules.ApplicationRuleCollections, ApplicationRuleCollection{
			Name: name, Action: "Allow",
			Rules: []tre.ApplicationRule{{
				Name: "allow-" + name, Protocols: []tre.Protocol{{Port: "443", Type: "Https"}},
				TargetFQDNs: []string{id + ".example.com"}, SourceAddresses: []string{"10.0.0.0/24"},
			}},
		})
	}
	for _, name := range netCollections {
		o.Rules.NetworkRuleCollections = append(o.Rules.NetworkRuleCollections, NetworkRuleCollection{
			Name: name,
			Rules: []tre.NetworkRule{{
				Name: "allow-" + name, SourceAddresses: []string{"10.0.0.0/24"}, DestinationAddresses: []string{"AzureCloud"},
				DestinationPorts: []string{"443"}, Protocols: []string{"TCP"},
			}},
		})
	}
	return o
}

type collectionView struct {
	Name     string
	Priority int32
	Owner    string
	Declared string
}

func view(g tre.RuleCollectionGroup) []collectionView {
	var out []collectionView
	for _, c := range g.Collections {
		out = append(out, collectionView{c.Name, c.Priority, c.Owner.ID, c.OwnerCollection})
	}
	return out
}

func groupNames(groups []tre.RuleCollectionGroup) []string {
	var out []string
	for _, g := range groups {
		out = append(out, fmt.Sprintf("%s@%d", g.Name, g.Priority))
	}
	return out
}

func TestDesiredOrderAndPriorities(t *testing.T) {
	in := []Owned{
		owned(tre.RuleOwnerResource, "ws-b", []string{"arc_b"}, []string{"nrc_b2", "nrc_b1"}),
		owned(tre.RuleOwnerManual, "admin-pypi", []string{"arc_pypi"}, nil),
		owned(tre.RuleOwnerResource, "ws-a", []string{"arc_a"}, []string{"nrc_a"}),
		owned(tre.RuleOwnerManual, "admin-ntp", nil, []string{"nrc_ntp"}),
	}
	groups, errs := Desired(in, Config{})
	require.Empty(t, errs)
	require.Equal(t, []string{
		"rcg-tre-manual-network@300", "rcg-tre-manual-application@310",
		"rcg-tre-network@400", "rcg-tre-application@410",
	}, groupNames(groups))

	require.Equal(t, []collectionView{
		{"admin-ntp.nrc_ntp", 1000, "admin-ntp", "nrc_ntp"},
	}, view(groups[0]))
	require.Equal(t, []collectionView{
		{"admin-pypi.arc_pypi", 1000, "admin-pypi", "arc_pypi"},
	}, view(groups[1]))
	require.Equal(t, []collectionView{
		{"ws-a.nrc_a", 1000, "ws-a", "nrc_a"},
		{"ws-b.nrc_b1", 1010, "ws-b", "nrc_b1"},
		{"ws-b.nrc_b2", 1020, "ws-b", "nrc_b2"},
	}, view(groups[2]))
	require.Equal(t, []collectionView{
		{"ws-a.arc_a", 1000, "ws-a", "arc_a"},
		{"ws-b.arc_b", 1010, "ws-b", "arc_b"},
	}, view(groups[3]))

	for _, g := range groups {
		require.NoError(t, g.Check(), g.Name)
		for _, c := range g.Collections {
			require.Equal(t, tre.RuleAllow, c.Action)
		}
	}
	// The rules themselves are carried over.
	require.Equal(t, []string{"ws-b.example.com"}, groups[3].Collections[1].ApplicationRules[0].TargetFQDNs)
}

func TestDesiredConfiguredPriorities(t *testing.T) {
	cfg := Config{
		GroupPrefix: "fw-", ManualNetworkPriority: 150, ManualApplicationPriority: 160,
		TRENetworkPriority: 900, TREApplicationPriority: 800, CollectionPriorityBase: 300, CollectionPriorityStep: 1,
	}
	groups, errs := Desired([]Owned{
		owned(tre.RuleOwnerResource, "r1", []string{"a1", "a2"}, []string{"n1"}),
		owned(tre.RuleOwnerManual, "m1", []string{"a1"}, []string{"n1"}),
	}, cfg)
	require.Empty(t, errs)
	require.Equal(t, []string{"fw-manual-network@150", "fw-manual-application@160", "fw-application@800", "fw-network@900"}, groupNames(groups))
	require.Equal(t, []collectionView{{"r1.a1", 300, "r1", "a1"}, {"r1.a2", 301, "r1", "a2"}}, view(groups[2]))
}

func TestDesiredIsDeterministic(t *testing.T) {
	var in []Owned
	for i := range 30 {
		kind := tre.RuleOwnerResource
		if i%7 == 0 {
			kind = tre.RuleOwnerManual
		}
		in = append(in, owned(kind, fmt.Sprintf("owner-%02d-y%s", i, strings.Repeat("x", i)),
			[]string{fmt.Sprintf("arc_%d", i), "arc_common"}, []string{"nrc_common", fmt.Sprintf("nrc_%d", 30-i)}))
	}
	in = append(in, Owned{Owner: tre.RuleOwner{Kind: tre.RuleOwnerResource, ID: "bad"}, Rules: RuleSet{
		NetworkRuleCollections: []NetworkRuleCollection{{Name: "n", Rules: []tre.NetworkRule{{Name: "x"}}}},
	}})
	dup1, dup2 := owned(tre.RuleOwnerResource, "dup", nil, []string{"n1"}), owned(tre.RuleOwnerResource, "dup", nil, []string{"n2"})
	dup2.Owner.Name = "renamed"
	in = append(in, dup1, dup2)
	want, wantErrs := Desired(in, Config{})
	require.Len(t, wantErrs, 2)
	require.Len(t, want, 4)

	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := append([]Owned(nil), in...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, gotErrs := Desired(shuffled, Config{})
		require.Equal(t, want, got)
		require.Equal(t, wantErrs, gotErrs)
	}
}

func TestDesiredOwnershipRoundTrips(t *testing.T) {
	long := "0f6c1c3e-6a4f-4a2c-9c1e-2b7d8f9e0a1b"
	in := []Owned{
		owned(tre.RuleOwnerResource, long, []string{"arc_svc_" + long + "_gitea"}, []string{"nrc_svc_" + long + "_gitea"}),
		owned(tre.RuleOwnerResource, "ws-a", []string{"arc_z", "arc_a"}, nil),
		owned(tre.RuleOwnerManual, "admin.rules", nil, []string{"nrc_ntp"}),
	}
	groups, errs := Desired(in, Config{})
	require.Empty(t, errs)

	got := ByOwner(groups)
	require.Len(t, got, 3)
	// ByOwner orders by (kind, id) and collections by name; the deprecated
	// action is not kept.
	require.Equal(t, in[2].Owner, got[0].Owner)
	require.Equal(t, in[0].Owner, got[1].Owner)
	require.Equal(t, in[1].Owner, got[2].Owner)
	want := in[1].Rules.Clone()
	want.ApplicationRuleCollections[0], want.ApplicationRuleCollections[1] = want.ApplicationRuleCollections[1], want.ApplicationRuleCollections[0]
	for i := range want.ApplicationRuleCollections {
		want.ApplicationRuleCollections[i].Action = ""
	}
	require.Equal(t, want, got[2].Rules)
	require.Equal(t, "nrc_svc_"+long+"_gitea", got[1].Rules.NetworkRuleCollections[0].Name)

	// Reading the owner from the output does not need the input.
	for _, g := range groups {
		for _, c := range g.Collections {
			require.NotEmpty(t, c.Owner.ID)
			require.Equal(t, CollectionName(c.Owner.ID, c.OwnerCollection), c.Name)
		}
	}
}

func TestDesiredCopiesItsInput(t *testing.T) {
	in := []Owned{owned(tre.RuleOwnerResource, "ws-a", []string{"arc_a"}, nil)}
	groups, _ := Desired(in, Config{})
	in[0].Rules.ApplicationRuleCollections[0].Rules[0].TargetFQDNs[0] = "evil.example.com"
	require.Equal(t, []string{"ws-a.example.com"}, groups[0].Collections[0].ApplicationRules[0].TargetFQDNs)
}

func TestDesiredExcludesAndReportsBadOwners(t *testing.T) {
	bad := owned(tre.RuleOwnerResource, "ws-bad", []string{"arc_bad"}, []string{"nrc_bad"})
	bad.Rules.ApplicationRuleCollections[0].Rules[0].TargetFQDNs = []string{""} // AzureTRE #3448
	noKind := owned("", "ws-nokind", []string{"arc"}, nil)
	noID := owned(tre.RuleOwnerManual, "", []string{"arc"}, nil)
	good1 := owned(tre.RuleOwnerResource, "ws-good1", []string{"arc_g"}, []string{"nrc_g"})
	good2 := owned(tre.RuleOwnerResource, "ws-zgood2", []string{"arc_g"}, nil)

	groups, errs := Desired([]Owned{good2, bad, noKind, good1, noID}, Config{})

	require.Len(t, errs, 3)
	require.Equal(t, tre.RuleOwner{}.Kind, errs[0].Owner.Kind)
	require.Equal(t, "ws-nokind", errs[0].Owner.ID)
	require.Equal(t, tre.RuleOwnerManual, errs[1].Owner.Kind)
	require.Equal(t, "ws-bad", errs[2].Owner.ID)
	for _, e := range errs {
		require.Equal(t, tre.CodeInvalid, tre.ErrorCode(e), e.Error())
	}
	var te *tre.Error
	require.True(t, errors.As(errs[2], &te))
	require.Equal(t, `rule_collections[0] "arc_bad".rules[0] "allow-arc_bad"`, te.Fields[0].Field)
	require.Contains(t, errs[2].Error(), `firewall: resource "ws-bad": invalid firewall rules:`)

	require.Equal(t, []string{"rcg-tre-network@400", "rcg-tre-application@410"}, groupNames(groups))
	require.Equal(t, []collectionView{{"ws-good1.nrc_g", 1000, "ws-good1", "nrc_g"}}, view(groups[0]))
	require.Equal(t, []collectionView{
		{"ws-good1.arc_g", 1000, "ws-good1", "arc_g"},
		{"ws-zgood2.arc_g", 1010, "ws-zgood2", "arc_g"},
	}, view(groups[1]))
}

func TestDesiredCollisions(t *testing.T) {
	// "x.y" has a '.' so its names take the hashed form; "x" declares a
	// collection crafted to get the same name.
	crafted := strings.TrimPrefix(CollectionName("x.y", "c"), "x.")
	require.Equal(t, "x."+crafted, CollectionName("x", crafted))

	tests := []struct {
		name      string
		in        []Owned
		loser     string
		survivors []string
	}{
		{"crafted hash collision", []Owned{
			owned(tre.RuleOwnerResource, "x.y", nil, []string{"c"}),
			owned(tre.RuleOwnerResource, "x", nil, []string{crafted}),
		}, "x.y", []string{"x"}},
		{"names differ only in case", []Owned{
			owned(tre.RuleOwnerResource, "a", nil, []string{"Nrc"}),
			owned(tre.RuleOwnerResource, "A", nil, []string{"nrc"}),
		}, "a", []string{"A"}},
		{"same id, different rules", []Owned{
			owned(tre.RuleOwnerResource, "dup", nil, []string{"n1"}),
			owned(tre.RuleOwnerResource, "dup", nil, []string{"n2"}),
			owned(tre.RuleOwnerResource, "other", nil, []string{"n1"}),
		}, "dup", []string{"other"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			groups, errs := Desired(tc.in, Config{})
			require.Len(t, errs, 1)
			require.Equal(t, tc.loser, errs[0].Owner.ID)
			require.Equal(t, tre.CodeConflict, tre.ErrorCode(errs[0]), errs[0].Error())
			require.Len(t, groups, 1)
			var owners []string
			for _, c := range groups[0].Collections {
				owners = append(owners, c.Owner.ID)
			}
			require.Equal(t, tc.survivors, owners)
		})
	}
}

func TestDesiredIdenticalDuplicateCountsOnce(t *testing.T) {
	o := owned(tre.RuleOwnerResource, "dup", []string{"arc"}, nil)
	groups, errs := Desired([]Owned{o, o}, Config{})
	require.Empty(t, errs)
	require.Len(t, groups, 1)
	require.Len(t, groups[0].Collections, 1)
}

func TestDesiredEmpty(t *testing.T) {
	tests := []struct {
		name string
		in   []Owned
	}{
		{"no owners", nil},
		{"owners without rules", []Owned{{Owner: tre.RuleOwner{Kind: tre.RuleOwnerResource, ID: "a"}}}},
		{"collections without rules", []Owned{{Owner: tre.RuleOwner{Kind: tre.RuleOwnerManual, ID: "m"}, Rules: RuleSet{
			ApplicationRuleCollections: []ApplicationRuleCollection{{Name: "arc"}},
			NetworkRuleCollections:     []NetworkRuleCollection{{Name: "nrc", Rules: []tre.NetworkRule{}}},
		}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			groups, errs := Desired(tc.in, Config{})
			require.Empty(t, errs)
			require.Empty(t, groups)
		})
	}
}

func TestDesiredFullGroup(t *testing.T) {
	// Priorities 64990, 64995, 65000: three collections fit.
	cfg := Config{CollectionPriorityBase: 64990, CollectionPriorityStep: 5}
	groups, errs := Desired([]Owned{
		owned(tre.RuleOwnerResource, "a", nil, []string{"n1", "n2"}),
		owned(tre.RuleOwnerResource, "b", nil, []string{"n1", "n2"}),
		owned(tre.RuleOwnerResource, "c", []string{"a1"}, []string{"n1"}),
	}, cfg)
	require.Len(t, errs, 1)
	require.Equal(t, "b", errs[0].Owner.ID)
	require.Contains(t, errs[0].Error(), "group rcg-tre-network is full: 3 collections fit")
	require.Equal(t, []string{"rcg-tre-network@400", "rcg-tre-application@410"}, groupNames(groups))
	require.Equal(t, []collectionView{
		{"a.n1", 64990, "a", "n1"}, {"a.n2", 64995, "a", "n2"}, {"c.n1", 65000, "c", "n1"},
	}, view(groups[0]))
}

func TestDesiredWithInvalidConfigWritesNothing(t *testing.T) {
	groups, errs := Desired([]Owned{owned(tre.RuleOwnerResource, "a", nil, []string{"n"})}, Config{GroupPrefix: "bad prefix"})
	require.Nil(t, groups)
	require.Len(t, errs, 1)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(errs[0]))
	require.Contains(t, errs[0].Error(), "invalid firewall configuration")
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"defaults", Config{}, ""},
		{"explicit defaults", DefaultConfig(), ""},
		{"prefix characters", Config{GroupPrefix: "rcg tre"}, "GroupPrefix"},
		{"prefix start", Config{GroupPrefix: "-rcg"}, "GroupPrefix"},
		{"prefix too long", Config{GroupPrefix: strings.Repeat("p", 63)}, "GroupPrefix"},
		{"priority below range", Config{ManualNetworkPriority: 99}, "ManualNetworkPriority"},
		{"priority above range", Config{TREApplicationPriority: 65001}, "TREApplicationPriority"},
		{"duplicate priorities", Config{ManualApplicationPriority: 300}, "ManualApplicationPriority"},
		{"manual after TRE", Config{ManualNetworkPriority: 500}, "ManualNetworkPriority"},
		{"manual application after TRE", Config{ManualApplicationPriority: 420}, "ManualApplicationPriority"},
		{"negative step", Config{CollectionPriorityStep: -1}, "CollectionPriorityStep"},
		{"base out of range", Config{CollectionPriorityBase: 70000}, "CollectionPriorityBase"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var e *tre.Error
			require.True(t, errors.As(err, &e), "want an error, got %v", err)
			require.Equal(t, tre.CodeInvalid, e.Code)
			require.Equal(t, tc.field, e.Fields[0].Field, e.Message)
		})
	}
}

func TestConfigOwns(t *testing.T) {
	cfg := Config{}
	require.True(t, cfg.Owns("rcg-tre-network"))
	require.True(t, cfg.Owns("RCG-TRE-Network"), "Azure names ignore case")
	require.False(t, cfg.Owns("rcg-core"))
	require.False(t, cfg.Owns("rcg-tr"))
	require.False(t, cfg.Owns("DefaultNetworkRuleCollectionGroup"))
}

func TestCollectionName(t *testing.T) {
	uuid := "0f6c1c3e-6a4f-4a2c-9c1e-2b7d8f9e0a1b"
	tests := []struct {
		name, owner, collection string
		want                    string // "" means: hashed form
	}{
		{"plain", "ws-a", "nrc_dns", "ws-a.nrc_dns"},
		{"exactly 80", strings.Repeat("o", 40), strings.Repeat("c", 39), strings.Repeat("o", 40) + "." + strings.Repeat("c", 39)},
		{"over 80", uuid, "nrc_svc_" + uuid + "_gitea", ""},
		{"owner id with a dot", "admin.rules", "nrc", ""},
		{"owner id with other characters", "admin rules/1", "nrc", ""},
		{"owner id starting with underscore", "_x", "nrc", ""},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CollectionName(tc.owner, tc.collection)
			require.LessOrEqual(t, len(got), tre.MaxRuleNameLength)
			require.Empty(t, tre.CheckRuleName(got, 1))
			require.Equal(t, got, CollectionName(tc.owner, tc.collection), "deterministic")
			require.False(t, seen[got], "distinct inputs, distinct names")
			seen[got] = true
			if tc.want != "" {
				require.Equal(t, tc.want, got)
				return
			}
			require.Regexp(t, `\.[0-9a-f]{16}$`, got)
		})
	}
	// The hashed form starts readable: with the owner's id.
	require.True(t, strings.HasPrefix(CollectionName(uuid, "nrc_svc_"+uuid+"_gitea"), uuid+".nrc_svc_"))
	require.NotEqual(t, CollectionName("a.b", "c"), CollectionName("a", "b.c"))
}
