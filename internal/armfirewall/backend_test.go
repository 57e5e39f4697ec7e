package armfirewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/firewall"
	"github.com/tre-go/tre/internal/firewalltest"
	"github.com/tre-go/tre/internal/lock"
	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/tre"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBackendConformance(t *testing.T) {
	firewalltest.Run(t, func(t *testing.T) tre.Firewall {
		f := newFakeARM(t)
		f.pageSize = 2 // every listing with more than two groups is paged
		return f.backend(t)
	})
}

func TestPutSendsAzureShapeAndWaitsForTheOperation(t *testing.T) {
	f := newFakeARM(t)
	f.pollsPerOp = 3
	b := f.backend(t)
	ctx := testContext(t)

	g := firewalltest.Group("rcg-tre-network", 500)
	require.NoError(t, b.Put(ctx, g))

	var body struct {
		Properties struct {
			Priority        int32            `json:"priority"`
			RuleCollections []map[string]any `json:"ruleCollections"`
		} `json:"properties"`
	}
	f.do(func(f *fakeARM) { require.NoError(t, json.Unmarshal(f.lastPut, &body)) })
	require.Equal(t, int32(500), body.Properties.Priority)
	require.Len(t, body.Properties.RuleCollections, 2)
	net, app := body.Properties.RuleCollections[0], body.Properties.RuleCollections[1]
	require.Equal(t, "FirewallPolicyFilterRuleCollection", net["ruleCollectionType"])
	require.Equal(t, map[string]any{"type": "Allow"}, net["action"])
	require.Equal(t, float64(1000), net["priority"])
	netRule := net["rules"].([]any)[0].(map[string]any)
	require.Equal(t, "NetworkRule", netRule["ruleType"])
	require.Equal(t, []any{"UDP", "TCP"}, netRule["ipProtocols"])
	require.Equal(t, []any{"53", "8000-8080"}, netRule["destinationPorts"])
	require.Equal(t, []any{"dns.example.com"}, netRule["destinationFqdns"])
	appRule := app["rules"].([]any)[0].(map[string]any)
	require.Equal(t, "ApplicationRule", appRule["ruleType"])
	require.Equal(t, []any{
		map[string]any{"protocolType": "Https", "port": float64(443)},
		map[string]any{"protocolType": "Http", "port": float64(80)},
	}, appRule["protocols"])
	require.Equal(t, []any{"github.com", "*.github.com"}, appRule["targetFqdns"])

	// Put returned only once the operation had ended (after 3 InProgress
	// polls), so the group is in place.
	f.do(func(f *fakeARM) {
		require.Equal(t, 0, f.inFlight)
		require.Equal(t, 4, f.ops["op1"].polls)
	})
	groups, err := b.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.True(t, groups[0].Equal(g))
}

func TestFailedOperationSurfacesTheServiceError(t *testing.T) {
	f := newFakeARM(t)
	b := f.backend(t)
	ctx := testContext(t)
	require.NoError(t, b.Put(ctx, firewalltest.Group("rcg-tre-application", 510)))

	tests := []struct {
		name string
		op   func() error
	}{
		{"put", func() error { return b.Put(ctx, firewalltest.Group("rcg-tre-network", 500)) }},
		{"delete", func() error { return b.Delete(ctx, "rcg-tre-application") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.do(func(f *fakeARM) {
				f.failNext = &fakeFailure{Code: "FirewallPolicyRuleIpAddressesAndPortsMustBeSpecified",
					Message: "Firewall Policy Rule allow-dns should have IP addresses and ports specified."}
			})
			err := tc.op()
			require.Error(t, err)
			var svc *ServiceError
			require.True(t, errors.As(err, &svc), "%v", err)
			require.Equal(t, "FirewallPolicyRuleIpAddressesAndPortsMustBeSpecified", svc.Code)
			require.Equal(t, "Firewall Policy Rule allow-dns should have IP addresses and ports specified.", svc.Message)
			var re *azcore.ResponseError
			require.True(t, errors.As(err, &re))
			require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
			require.Contains(t, err.Error(), "armfirewall: "+tc.name+" rcg-tre-")
			require.Contains(t, err.Error(), "FirewallPolicyRuleIpAddressesAndPortsMustBeSpecified")
			require.Contains(t, tre.ErrorMessage(err), "should have IP addresses and ports specified")
		})
	}
	// Neither failed write took effect.
	groups, err := b.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, "rcg-tre-application", groups[0].Name)
}

func TestThrottledWriteIsRetriedAfterRetryAfter(t *testing.T) {
	f := newFakeARM(t)
	b := f.backend(t) // production retry settings
	f.do(func(f *fakeARM) { f.throttle = 1 })

	require.NoError(t, b.Put(testContext(t), firewalltest.Group("rcg-tre-network", 500)))
	f.do(func(f *fakeARM) {
		require.Len(t, f.throttledAt, 1)
		require.Len(t, f.acceptedAt, 1)
		require.Equal(t, []string{"PUT rcg-tre-network"}, f.writes)
		require.GreaterOrEqual(t, f.acceptedAt[0].Sub(f.throttledAt[0]), time.Second, "Retry-After: 1 was honoured")
	})
	require.NotEmpty(t, f.groupJSON(t, "rcg-tre-network"))
}

func TestErrorsAreTranslated(t *testing.T) {
	fastRetry := policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond}
	tests := []struct {
		name    string
		setup   func(f *fakeARM) (*Backend, error)
		code    tre.Code
		svcCode string
	}{
		{"no token", func(f *fakeARM) (*Backend, error) {
			return f.newBackend("fp1", staticCredential{err: errors.New("managed identity endpoint unreachable")}, fastRetry)
		}, tre.CodeUnavailable, ""},
		{"forbidden", func(f *fakeARM) (*Backend, error) {
			f.do(func(f *fakeARM) { f.status = http.StatusForbidden })
			return f.newBackend("fp1", staticCredential{}, fastRetry)
		}, tre.CodeUnavailable, "Forbidden"},
		{"server errors after retries", func(f *fakeARM) (*Backend, error) {
			f.do(func(f *fakeARM) { f.status = http.StatusServiceUnavailable })
			return f.newBackend("fp1", staticCredential{}, fastRetry)
		}, tre.CodeUnavailable, "Service Unavailable"},
		{"bad request", func(f *fakeARM) (*Backend, error) {
			f.do(func(f *fakeARM) { f.status = http.StatusBadRequest })
			return f.newBackend("fp1", staticCredential{}, fastRetry)
		}, tre.CodeInvalid, "Bad Request"},
		{"policy not found", func(f *fakeARM) (*Backend, error) {
			return f.newBackend("other", staticCredential{}, fastRetry)
		}, tre.CodeNotFound, "NotFound"},
		{"no connection", func(f *fakeARM) (*Backend, error) {
			f.srv.Close()
			return f.newBackend("fp1", staticCredential{}, fastRetry)
		}, tre.CodeUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeARM(t)
			b, err := tc.setup(f)
			require.NoError(t, err)
			ctx := testContext(t)
			for _, op := range []func() error{
				func() error { _, err := b.Groups(ctx); return err },
				func() error { return b.Put(ctx, firewalltest.Group("rcg-tre-network", 500)) },
			} {
				err := op()
				require.Error(t, err)
				require.Equal(t, tc.code, tre.ErrorCode(err), "%v", err)
				var svc *ServiceError
				if tc.svcCode == "" {
					require.False(t, errors.As(err, &svc), "%v", err)
					continue
				}
				require.True(t, errors.As(err, &svc), "%v", err)
				require.Equal(t, tc.svcCode, svc.Code)
			}
		})
	}
}

func TestInvalidGroupIsNotSent(t *testing.T) {
	f := newFakeARM(t)
	b := f.backend(t)
	g := firewalltest.Group("rcg-tre-network", 500)
	g.Collections[0].Unsupported = "a NAT rule collection"
	err := b.Put(testContext(t), g)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))
	f.do(func(f *fakeARM) { require.Zero(t, f.requests) })
}

func TestCancelledContext(t *testing.T) {
	f := newFakeARM(t)
	b := f.backend(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Put(ctx, firewalltest.Group("rcg-tre-network", 500))
	require.ErrorIs(t, err, context.Canceled)
	_, err = b.Groups(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestNewChecksItsConfiguration(t *testing.T) {
	_, err := New(Config{PollFrequency: -1}, nil, nil)
	var e *tre.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, tre.CodeInvalid, e.Code)
	var fields []string
	for _, fe := range e.Fields {
		fields = append(fields, fe.Field)
	}
	require.Equal(t, []string{"SubscriptionID", "ResourceGroup", "PolicyName", "PollFrequency", "credential"}, fields)
}

// TestReconcileEndToEnd runs the firewall service against the fake ARM: 20
// owners reconciled at once from 20 goroutines through one store lease, then
// a manual change to a TRE group, reverted, beside groups that are not
// TRE's, left alone.
func TestReconcileEndToEnd(t *testing.T) {
	ctx := testContext(t)
	f := newFakeARM(t)
	f.pollsPerOp = 2
	store, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })

	const core = `{"priority": 100, "ruleCollections": [{"ruleCollectionType": "FirewallPolicyFilterRuleCollection",
	  "name": "nrc-core", "priority": 100, "action": {"type": "Allow"}, "rules": [{"ruleType": "NetworkRule",
	  "name": "allow-dns", "sourceAddresses": ["*"], "destinationAddresses": ["*"], "destinationPorts": ["53"], "ipProtocols": ["UDP"]}]}]}`
	f.setGroup(t, "rcg-core", core)
	coreBefore := f.groupJSON(t, "rcg-core")

	var mu sync.Mutex
	var owners []firewall.Owned
	source := func(context.Context) ([]tre.RuleCollectionGroup, error) {
		mu.Lock()
		defer mu.Unlock()
		groups, errs := firewall.Desired(owners, firewall.Config{})
		if len(errs) > 0 {
			return nil, errs[0]
		}
		return groups, nil
	}
	newReconciler := func(instance int) *firewall.Reconciler {
		// Each goroutine plays a separate instance: its own backend and
		// lease holder, one store.
		return &firewall.Reconciler{
			Firewall: f.backend(t),
			Lease:    &lock.Lease{Store: store, Name: "firewall", Holder: fmt.Sprintf("instance-%d", instance), MaxWait: 20 * time.Millisecond},
		}
	}

	const n = 20
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			owners = append(owners, ownerRules(i))
			mu.Unlock()
			_, err := newReconciler(i).ReconcileFrom(ctx, source)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	f.do(func(f *fakeARM) {
		require.Empty(t, f.overlaps, "writes overlapped")
		require.Equal(t, 1, f.maxInFlight)
		require.NotEmpty(t, f.writes)
	})

	want, _ := source(ctx)
	require.Len(t, want, 2)
	b := f.backend(t)
	got, err := b.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for _, g := range want {
		require.Len(t, g.Collections, n)
		require.True(t, find(t, got, g.Name).Equal(g), g.Name)
	}
	require.Equal(t, coreBefore, f.groupJSON(t, "rcg-core"))

	// An admin edits TRE's network group in the portal: drops a collection
	// and opens a rule to everything; and adds a group of their own.
	var props map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.groupJSON(t, "rcg-tre-network")), &props))
	collections := props["ruleCollections"].([]any)
	rule := collections[1].(map[string]any)["rules"].([]any)[0].(map[string]any)
	rule["destinationAddresses"] = []any{"*"}
	props["ruleCollections"] = collections[1:]
	drifted, err := json.Marshal(props)
	require.NoError(t, err)
	f.setGroup(t, "rcg-tre-network", string(drifted))
	f.setGroup(t, "rcg-admin-own", core)
	adminBefore := f.groupJSON(t, "rcg-admin-own")

	f.do(func(f *fakeARM) { f.writes = nil })
	res, err := newReconciler(99).ReconcileFrom(ctx, source)
	require.NoError(t, err)
	require.Equal(t, []string{"rcg-tre-network"}, res.Written)
	require.Equal(t, []string{"rcg-tre-application"}, res.Unchanged)
	require.Empty(t, res.Deleted)
	f.do(func(f *fakeARM) { require.Equal(t, []string{"PUT rcg-tre-network"}, f.writes) })

	got, err = b.Groups(ctx)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.True(t, find(t, got, "rcg-tre-network").Equal(want[0]))
	require.Equal(t, coreBefore, f.groupJSON(t, "rcg-core"))
	require.Equal(t, adminBefore, f.groupJSON(t, "rcg-admin-own"))

	// All owners uninstalled: TRE's groups go, the others stay (AzureTRE #4233).
	mu.Lock()
	owners = nil
	mu.Unlock()
	res, err = newReconciler(100).ReconcileFrom(ctx, source)
	require.NoError(t, err)
	require.Equal(t, []string{"rcg-tre-application", "rcg-tre-network"}, res.Deleted)
	got, err = b.Groups(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"rcg-admin-own", "rcg-core"}, []string{got[0].Name, got[1].Name})
}

func TestReconcileRewritesAFailedGroup(t *testing.T) {
	ctx := testContext(t)
	f := newFakeARM(t)
	store, err := sqlite.OpenStore(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	r := &firewall.Reconciler{Firewall: f.backend(t), Lease: &lock.Lease{Store: store, Name: "firewall", Holder: "a"}}
	desired, _ := firewall.Desired([]firewall.Owned{ownerRules(1)}, firewall.Config{})
	_, err = r.Reconcile(ctx, desired)
	require.NoError(t, err)

	// An earlier update left the group Failed, with the right content.
	var props map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.groupJSON(t, "rcg-tre-network")), &props))
	props["provisioningState"] = "Failed"
	failed, err := json.Marshal(props)
	require.NoError(t, err)
	f.setGroup(t, "rcg-tre-network", string(failed))

	res, err := r.Reconcile(ctx, desired)
	require.NoError(t, err)
	require.Equal(t, []string{"rcg-tre-network"}, res.Written)
	require.Equal(t, []string{"rcg-tre-application"}, res.Unchanged)
	require.Contains(t, f.groupJSON(t, "rcg-tre-network"), `"provisioningState":"Succeeded"`)
}

// ownerRules is what a workspace service declares in AzureTRE's convention.
func ownerRules(i int) firewall.Owned {
	id := fmt.Sprintf("0f6c1c3e-6a4f-4a2c-9c1e-%012d", i)
	cidr := fmt.Sprintf("10.%d.0.0/24", i)
	return firewall.Owned{
		Owner: tre.RuleOwner{Kind: tre.RuleOwnerResource, ID: id, Name: fmt.Sprintf("Gitea %d", i), ResourceType: "workspace-service"},
		Rules: firewall.RuleSet{
			ApplicationRuleCollections: []firewall.ApplicationRuleCollection{{
				Name: "arc_svc_" + id + "_gitea",
				Rules: []tre.ApplicationRule{{
					Name: "allow-sources", Protocols: []tre.Protocol{{Port: "443", Type: "Https"}},
					TargetFQDNs: []string{"github.com", "*.github.com"}, SourceAddresses: []string{cidr},
				}},
			}},
			NetworkRuleCollections: []firewall.NetworkRuleCollection{{
				Name: "nrc_svc_" + id + "_gitea",
				Rules: []tre.NetworkRule{{
					Name: "allow-mysql", SourceAddresses: []string{cidr}, DestinationAddresses: []string{"Sql.WestEurope"},
					DestinationPorts: []string{"3306"}, Protocols: []string{"TCP"},
				}},
			}},
		},
	}
}

func find(t *testing.T, groups []tre.RuleCollectionGroup, name string) tre.RuleCollectionGroup {
	t.Helper()
	for _, g := range groups {
		if g.Name == name {
			return g
		}
	}
	require.FailNow(t, "group not found", name)
	return tre.RuleCollectionGroup{}
}
