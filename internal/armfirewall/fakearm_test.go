package armfirewall

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

const (
	apiVersion = "2024-05-01"
	groupsPath = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/firewallPolicies/fp1/ruleCollectionGroups"
	opsPath    = "/subscriptions/sub1/providers/Microsoft.Network/locations/westeurope/operations/"
	fakeToken  = "fake-token"
)

// fakeARM is a minimal Azure Resource Manager for one firewall policy's rule
// collection groups: PUT and DELETE are long-running operations polled
// through Azure-AsyncOperation, GET serves a map, the list is paged. Writes
// take effect when their operation completes, as in Azure.
type fakeARM struct {
	srv *httptest.Server

	mu          sync.Mutex
	groups      map[string]map[string]any // lower-case name → resource
	ops         map[string]*fakeOp
	nextID      int
	pageSize    int
	pollsPerOp  int // InProgress answers before an operation ends
	inFlight    int
	maxInFlight int
	overlaps    []string // writes that started while another was in flight
	writes      []string // "PUT name" / "DELETE name", as accepted
	lastPut     []byte
	throttle    int // answer this many writes with 429
	throttledAt []time.Time
	acceptedAt  []time.Time
	failNext    *fakeFailure // the next operation ends Failed
	status      int          // if set, every request is answered with it
	requests    int
}

type fakeOp struct {
	method string
	name   string
	body   map[string]any // PUT: the resource to store
	polls  int
	fail   *fakeFailure
	done   bool
}

type fakeFailure struct{ Code, Message string }

func newFakeARM(t *testing.T) *fakeARM {
	f := &fakeARM{groups: map[string]map[string]any{}, ops: map[string]*fakeOp{}, pageSize: 3, pollsPerOp: 1}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// clientOptions points the SDK at the fake: its URL as the ARM endpoint, its
// TLS client as the transport.
func (f *fakeARM) clientOptions(retry policy.RetryOptions) *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: f.srv.URL + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: f.srv.URL},
			},
		},
		Transport: f.srv.Client(),
		Retry:     retry,
	}}
}

// backend returns a Backend on the fake with the production retry
// settings and fast polling.
func (f *fakeARM) backend(t *testing.T) *Backend {
	t.Helper()
	b, err := f.newBackend("fp1", staticCredential{}, policy.RetryOptions{})
	require.NoError(t, err)
	return b
}

func (f *fakeARM) newBackend(policyName string, cred azcore.TokenCredential, retry policy.RetryOptions) (*Backend, error) {
	return New(Config{SubscriptionID: "sub1", ResourceGroup: "rg1", PolicyName: policyName, PollFrequency: 5 * time.Millisecond},
		cred, f.clientOptions(retry))
}

type staticCredential struct{ err error }

func (c staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func armError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeARM) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.Header.Get("Authorization") != "Bearer "+fakeToken {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "missing or wrong bearer token")
		return
	}
	if v := r.URL.Query().Get("api-version"); v != apiVersion {
		armError(w, http.StatusBadRequest, "InvalidApiVersionParameter", "api-version "+v+" is not supported")
		return
	}
	if f.status != 0 {
		armError(w, f.status, http.StatusText(f.status), "the fake was told to answer "+strconv.Itoa(f.status))
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, opsPath) && r.Method == http.MethodGet:
		f.pollOp(w, strings.TrimPrefix(r.URL.Path, opsPath))
	case r.URL.Path == groupsPath && r.Method == http.MethodGet:
		f.list(w, r)
	case strings.HasPrefix(r.URL.Path, groupsPath+"/"):
		name := strings.TrimPrefix(r.URL.Path, groupsPath+"/")
		switch r.Method {
		case http.MethodGet:
			g, ok := f.groups[strings.ToLower(name)]
			if !ok {
				armError(w, http.StatusNotFound, "NotFound", "rule collection group "+name+" not found")
				return
			}
			writeJSON(w, http.StatusOK, g)
		case http.MethodPut:
			f.put(w, r, name)
		case http.MethodDelete:
			f.delete(w, name)
		default:
			armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method)
		}
	default:
		armError(w, http.StatusNotFound, "NotFound", r.URL.Path)
	}
}

func (f *fakeARM) list(w http.ResponseWriter, r *http.Request) {
	var names []string
	for k := range f.groups {
		names = append(names, k)
	}
	slices.Sort(names)
	start, _ := strconv.Atoi(r.URL.Query().Get("$skipToken"))
	end := min(start+f.pageSize, len(names))
	page := map[string]any{"value": []any{}}
	var value []any
	for _, n := range names[min(start, end):end] {
		value = append(value, f.groups[n])
	}
	if value != nil {
		page["value"] = value
	}
	if end < len(names) {
		page["nextLink"] = fmt.Sprintf("%s%s?api-version=%s&$skipToken=%d", f.srv.URL, groupsPath, apiVersion, end)
	}
	writeJSON(w, http.StatusOK, page)
}

// startWrite counts a write in flight from its acceptance until its
// operation ends, and records one that overlaps another.
func (f *fakeARM) startWrite(op string) {
	f.inFlight++
	if f.inFlight > 1 {
		f.overlaps = append(f.overlaps, op)
	}
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.writes = append(f.writes, op)
	f.acceptedAt = append(f.acceptedAt, time.Now())
}

func (f *fakeARM) newOp(op *fakeOp) string {
	f.nextID++
	id := fmt.Sprintf("op%d", f.nextID)
	op.fail, f.failNext = f.failNext, nil
	f.ops[id] = op
	return id
}

func (f *fakeARM) asyncHeaders(w http.ResponseWriter, id string) {
	w.Header().Set("Azure-AsyncOperation", fmt.Sprintf("%s%s%s?api-version=%s", f.srv.URL, opsPath, id, apiVersion))
}

func (f *fakeARM) put(w http.ResponseWriter, r *http.Request, name string) {
	if f.throttle > 0 {
		f.throttle--
		f.throttledAt = append(f.throttledAt, time.Now())
		w.Header().Set("Retry-After", "1")
		armError(w, http.StatusTooManyRequests, "TooManyRequests", "slow down")
		return
	}
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		armError(w, http.StatusBadRequest, "InvalidRequestContent", err.Error())
		return
	}
	props, _ := body["properties"].(map[string]any)
	if props == nil || props["priority"] == nil {
		armError(w, http.StatusBadRequest, "InvalidRequestContent", "properties.priority is required")
		return
	}
	f.lastPut = data
	f.startWrite("PUT " + name)
	stored := map[string]any{
		"id":         groupsPath + "/" + name,
		"name":       name,
		"type":       "Microsoft.Network/FirewallPolicies/RuleCollectionGroups",
		"properties": props,
	}
	id := f.newOp(&fakeOp{method: http.MethodPut, name: name, body: stored})
	f.asyncHeaders(w, id)
	answer := map[string]any{}
	for k, v := range stored {
		answer[k] = v
	}
	answer["properties"] = withState(props, "Updating")
	writeJSON(w, http.StatusCreated, answer)
}

func (f *fakeARM) delete(w http.ResponseWriter, name string) {
	if _, ok := f.groups[strings.ToLower(name)]; !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	f.startWrite("DELETE " + name)
	id := f.newOp(&fakeOp{method: http.MethodDelete, name: name})
	f.asyncHeaders(w, id)
	w.Header().Set("Location", fmt.Sprintf("%s%s%s?api-version=%s", f.srv.URL, opsPath, id, apiVersion))
	w.WriteHeader(http.StatusAccepted)
}

func (f *fakeARM) pollOp(w http.ResponseWriter, id string) {
	op, ok := f.ops[id]
	if !ok {
		armError(w, http.StatusNotFound, "NotFound", "operation "+id)
		return
	}
	op.polls++
	if op.polls <= f.pollsPerOp && !op.done {
		writeJSON(w, http.StatusOK, map[string]any{"status": "InProgress"})
		return
	}
	if !op.done {
		op.done = true
		f.inFlight--
		if op.fail == nil {
			key := strings.ToLower(op.name)
			if op.method == http.MethodPut {
				op.body["etag"] = fmt.Sprintf("W/\"%s\"", id)
				op.body["properties"] = withState(op.body["properties"].(map[string]any), "Succeeded")
				f.groups[key] = op.body
			} else {
				delete(f.groups, key)
			}
		}
	}
	if op.fail != nil {
		writeJSON(w, http.StatusOK, map[string]any{"status": "Failed",
			"error": map[string]string{"code": op.fail.Code, "message": op.fail.Message}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "Succeeded"})
}

func withState(props map[string]any, state string) map[string]any {
	out := map[string]any{}
	for k, v := range props {
		out[k] = v
	}
	out["provisioningState"] = state
	return out
}

// setGroup stores a group as if changed in the portal: properties is the
// resource's properties in ARM's JSON (provisioningState Succeeded unless
// given).
func (f *fakeARM) setGroup(t *testing.T, name, properties string) {
	t.Helper()
	var props map[string]any
	require.NoError(t, json.Unmarshal([]byte(properties), &props))
	if props["provisioningState"] == nil {
		props["provisioningState"] = "Succeeded"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[strings.ToLower(name)] = map[string]any{
		"id": groupsPath + "/" + name, "name": name, "type": "Microsoft.Network/FirewallPolicies/RuleCollectionGroups",
		"etag": "W/\"manual\"", "properties": props,
	}
}

// groupJSON returns a stored group's properties as JSON, "" if absent.
func (f *fakeARM) groupJSON(t *testing.T, name string) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[strings.ToLower(name)]
	if !ok {
		return ""
	}
	data, err := json.Marshal(g["properties"])
	require.NoError(t, err)
	return string(data)
}

func (f *fakeARM) do(fn func(f *fakeARM)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}
