package funchost

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzInvocation: the Functions host's invocation payload as the handler
// parses it (the trigger bindings' Data, the Metadata). Nothing may panic;
// a body Body returns is one JSON document (ingestion unmarshals it).
func FuzzInvocation(f *testing.F) {
	for _, name := range []string{"deployment-status.json", "timer.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"msg":"\"{\\\"a\\\":1}\""},"Metadata":{"DeliveryCount":"3","MessageId":"\"m\""}}`))
	f.Add([]byte(`{"Data":{"msg":"eyJhIjoxfQ=="},"Metadata":{"DeliveryCount":3}}`))
	f.Add([]byte(`{"Data":{"timer":{"IsPastDue":false}},"Metadata":{}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var inv Invocation
		if json.Unmarshal(payload, &inv) != nil {
			return
		}
		for name := range inv.Data {
			body, err := inv.Body(name)
			if err == nil && !json.Valid(body) {
				t.Fatalf("Body(%q) returned what is not JSON: %q", name, body)
			}
		}
		for key := range inv.Metadata {
			_ = inv.String(key)
			_ = inv.Int(key)
		}
		_, _ = inv.Body("msg")
	})
}
