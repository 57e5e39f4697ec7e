package funchost

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func load(t *testing.T, name string) *Invocation {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var inv Invocation
	require.NoError(t, json.Unmarshal(b, &inv))
	return &inv
}

func TestDecodeServiceBusInvocation(t *testing.T) {
	inv := load(t, "deployment-status.json")
	require.Equal(t, "0f0c6a8e-2b52-4d3c-8d5f-8e1f1c2a3b4c:deployed", inv.String("MessageId"))
	require.Equal(t, "5a1e7c47-7a2f-4c8e-9a3d-0d7f1f0b8a11", inv.String("SessionId"))
	require.Equal(t, 1, inv.Int("DeliveryCount"))
	require.Equal(t, 42, inv.Int("SequenceNumber"))
	require.Equal(t, "", inv.String("Missing"))
	body, err := inv.Body("msg")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	require.Equal(t, "deployed", m["status"])

	// The same body as an object, as a single-encoded string, as base64.
	for name, data := range map[string]json.RawMessage{
		"object":  json.RawMessage(`{"status":"deployed"}`),
		"string":  json.RawMessage(`"{\"status\":\"deployed\"}"`),
		"base64":  json.RawMessage(`"` + base64.StdEncoding.EncodeToString([]byte(`{"status":"deployed"}`)) + `"`),
		"encoded": StringData([]byte(`{"status":"deployed"}`)),
	} {
		inv := &Invocation{Data: map[string]json.RawMessage{"msg": data}}
		body, err := inv.Body("msg")
		require.NoError(t, err, name)
		require.JSONEq(t, `{"status":"deployed"}`, string(body), name)
	}
	_, err = (&Invocation{Data: map[string]json.RawMessage{"msg": json.RawMessage(`"not json"`)}}).Body("msg")
	require.Error(t, err)
	_, err = (&Invocation{}).Body("msg")
	require.Error(t, err)
}

func TestMetadataRoundTrip(t *testing.T) {
	md := ServiceBusMetadata("m1", "s1", "c1", 3, 7, "2026-11-27T10:00:00Z", map[string]string{"k": "v"})
	inv := &Invocation{Metadata: md}
	require.Equal(t, "m1", inv.String("MessageId"))
	require.Equal(t, "s1", inv.String("SessionId"))
	require.Equal(t, 3, inv.Int("DeliveryCount"))
	require.Equal(t, 7, inv.Int("SequenceNumber"))
	require.JSONEq(t, `{"k":"v"}`, string(md["ApplicationProperties"]))
	require.Equal(t, `"\"m1\""`, string(md["MessageId"]), "encoded as the host does")
}

func TestTimerInvocation(t *testing.T) {
	inv := load(t, "timer.json")
	body, err := inv.Body("timer")
	require.NoError(t, err)
	require.Contains(t, string(body), "IsPastDue")
}
