package infracheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// checkCosmosContainers compares the containers Terraform creates
// (local.containers of the cosmos module: name => partition key path) with
// the store's collections.
func checkCosmosContainers(dir string, want map[tre.Collection]string) ([]string, error) {
	m, err := loadModule(dir)
	if err != nil {
		return nil, err
	}
	a, ok := m.locals["containers"]
	if !ok {
		return nil, fmt.Errorf("%s: no local.containers", dir)
	}
	keys, err := m.objectKeys(a.Expr)
	if err != nil {
		return nil, err
	}
	var p problems
	for name, e := range keys {
		pk, ok := stringValue(e.expr)
		if !ok {
			p.addf("container %s (%s): the partition key is not a constant string", name, e)
			continue
		}
		wantPK, used := want[tre.Collection(name)]
		switch {
		case !used:
			p.addf("container %s (%s): created by infra, but the store has no such collection", name, e)
		case pk != wantPK:
			p.addf("container %s (%s): partitioned by %s in infra, by %s in the store", name, e, pk, wantPK)
		}
	}
	for c := range want {
		if _, ok := keys[string(c)]; !ok {
			p.addf("container %s: the store uses it, but infra does not create it (the managed identity cannot)", c)
		}
	}
	return p.sorted(), nil
}

func TestCosmosContainersMatchStore(t *testing.T) {
	got, err := checkCosmosContainers(cosmosModule, tre.Collections)
	require.NoError(t, err)
	require.Empty(t, got, "infra/modules/cosmos must create exactly tre.Collections")
}

// queueProps are the properties of the queues resource that the code
// depends on.
type queueProps struct {
	names       []string
	session     string
	duplicates  string
	window      string
	lock        string
	maxDelivery string
	where       string
}

func readQueues(dir string) (queueProps, error) {
	m, err := loadModule(dir)
	if err != nil {
		return queueProps{}, err
	}
	var q queueProps
	a, ok := m.locals["queues"]
	if !ok {
		return q, fmt.Errorf("%s: no local.queues", dir)
	}
	if q.names, ok = stringList(a.Expr); !ok {
		return q, fmt.Errorf("%s: local.queues is not a list of constant strings", rangeOf(a.Expr))
	}
	res := m.resources("azurerm_servicebus_queue")
	if len(res) != 1 {
		return q, fmt.Errorf("%s: want one azurerm_servicebus_queue (for_each over local.queues), found %d", dir, len(res))
	}
	body := res[0].Body
	q.where = fmt.Sprintf("%s:%d", filepath.Base(res[0].DefRange().Filename), res[0].DefRange().Start.Line)
	for attr, dst := range map[string]*string{
		"requires_session": &q.session, "requires_duplicate_detection": &q.duplicates,
		"duplicate_detection_history_time_window": &q.window, "lock_duration": &q.lock, "max_delivery_count": &q.maxDelivery,
	} {
		if a, ok := body.Attributes[attr]; ok {
			*dst, _ = stringValue(a.Expr)
		}
	}
	return q, nil
}

var isoDuration = regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$`)

// parseISODuration parses the PT#H#M#S durations Service Bus takes.
func parseISODuration(s string) (time.Duration, bool) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "PT" {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * unit
		}
	}
	return d, true
}

// checkQueues checks the queues against the code: the queue names of
// internal/tre, sessions (the adapters accept sessions on both queues, the
// status trigger has isSessionsEnabled), duplicate detection (message id =
// step id), a max delivery count equal to the embedded queue's (so local
// runs behave as Azure), and a lock that the processor's renewal keeps.
func checkQueues(q queueProps, triggers map[string]bool, maxDelivery string, renew time.Duration) []string {
	var p problems
	want := slices.DeleteFunc(slices.Clone(tre.Queues), func(name string) bool { return slices.Contains(tre.Topics, name) })
	got := slices.Clone(q.names)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		p.addf("queues %v: the code uses %v", got, want)
	}
	if q.session != "true" {
		p.addf("%s: requires_session must be true (the code receives by session)", q.where)
	}
	if q.duplicates != "true" {
		p.addf("%s: requires_duplicate_detection must be true (a re-sent step must be dropped)", q.where)
	}
	if d, ok := parseISODuration(q.window); !ok || d < 5*time.Minute {
		p.addf("%s: duplicate_detection_history_time_window %q must be at least PT5M (a crash and a re-send)", q.where, q.window)
	}
	if q.maxDelivery != maxDelivery {
		p.addf("%s: max_delivery_count %q differs from the embedded queue's TRE_QUEUE_MAX_DELIVERY default %q", q.where, q.maxDelivery, maxDelivery)
	}
	if d, ok := parseISODuration(q.lock); !ok || d < 2*renew {
		p.addf("%s: lock_duration %q must be at least twice the processor's RP_LOCK_RENEW_INTERVAL (%s)", q.where, q.lock, renew)
	}
	for queue, sessions := range triggers {
		if !slices.Contains(q.names, queue) {
			p.addf("a serviceBusTrigger reads queue %s, which infra does not create", queue)
		}
		if !sessions {
			p.addf("the serviceBusTrigger of %s must set isSessionsEnabled (the queue requires sessions)", queue)
		}
	}
	return p.sorted()
}

// serviceBusTriggers returns the queue of every serviceBusTrigger binding in
// functions/*/function.json, and whether it enables sessions.
func serviceBusTriggers(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "function.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var fn struct {
			Bindings []struct {
				Type     string `json:"type"`
				Queue    string `json:"queueName"`
				Sessions bool   `json:"isSessionsEnabled"`
			} `json:"bindings"`
		}
		if err := json.Unmarshal(b, &fn); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, bd := range fn.Bindings {
			if bd.Type == "serviceBusTrigger" {
				out[bd.Queue] = bd.Sessions
			}
		}
	}
	return out, nil
}

func TestQueuesMatchCode(t *testing.T) {
	q, err := readQueues(busModule)
	require.NoError(t, err)
	triggers, err := serviceBusTriggers(functionsDir)
	require.NoError(t, err)
	require.NotEmpty(t, triggers, "the deployment-status function is a serviceBusTrigger")
	maxDelivery := names(handlerTable)["TRE_QUEUE_MAX_DELIVERY"].Default
	require.NotEmpty(t, maxDelivery)
	env, err := envTemplate(envTemplateFile)
	require.NoError(t, err)
	raw := env["RP_LOCK_RENEW_INTERVAL"]
	require.NotEmpty(t, raw, "processor.env.template sets RP_LOCK_RENEW_INTERVAL")
	if name, ok := strings.CutPrefix(raw, "${"); ok {
		// A placeholder: the value is the one infra passes.
		m, err := loadModule(processorVM)
		require.NoError(t, err)
		keys, err := m.objectKeys(m.locals["processor_settings"].Expr)
		require.NoError(t, err)
		e, found := keys[strings.TrimSuffix(name, "}")]
		require.True(t, found, "infra passes %s", raw)
		raw, ok = stringValue(e.expr)
		require.True(t, ok, "infra passes a constant %s", name)
	}
	renew, err := time.ParseDuration(raw)
	require.NoError(t, err)
	require.Empty(t, checkQueues(q, triggers, maxDelivery, renew))
}
