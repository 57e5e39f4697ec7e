// Package funchost speaks the Azure Functions custom-handler protocol: the
// invocation payload the host posts to /{functionName} for non-HTTP
// triggers, and the answer it expects. Locally, Host stands in for the
// Functions host so that the same trigger code runs end to end.
//
// The host encodes every primitive Metadata value (and a string trigger
// body) with JsonConvert.SerializeObject, so they arrive as JSON strings
// that contain JSON ("MessageId": "\"883052…\"", "DeliveryCount": "11");
// the decoder here is tolerant of that and of the plain form.
//
// The protocol code is our own because no library speaks it: Microsoft
// publishes SDKs for the languages the host runs in-process (.NET, Java,
// JavaScript, Python, PowerShell), and a custom handler is, by design, any
// HTTP server that reads this JSON (see "Azure Functions custom handlers"
// in the Functions docs). The payload is small and documented; the tests
// hold the decoder to the payloads of testdata/, shaped as the host sends
// them.
package funchost

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Invocation is the payload of a trigger invocation.
type Invocation struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// Response is the answer to an invocation. Logs go to the invocation log
// in the portal. A non-2xx HTTP status makes the host fail the invocation
// (a Service Bus message is then abandoned and retried); the body keeps its
// Logs even then, though the host reports only the status, so what went
// wrong is also on the handler's own log. Outputs and ReturnValue are
// always set: our functions have no output bindings, and the host takes
// ReturnValue for a "$return" binding, so it carries the invocation's
// summary (the last log line) rather than null.
type Response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// WriteResponse answers an invocation: logs are its Logs, the last one its
// ReturnValue.
func WriteResponse(w http.ResponseWriter, status int, logs ...string) {
	if logs == nil {
		logs = []string{}
	}
	summary := ""
	if len(logs) > 0 {
		summary = logs[len(logs)-1]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Response{Outputs: map[string]any{}, Logs: logs, ReturnValue: summary})
}

// unwrap peels the host's string encoding: a JSON string whose content is
// JSON (possibly a string again) is decoded until it is not.
func unwrap(raw json.RawMessage) json.RawMessage {
	for i := 0; i < 3; i++ {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return raw // an object, number, array: as it is
		}
		t := strings.TrimSpace(s)
		if t == "" || !(strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") || strings.HasPrefix(t, `"`) || json.Valid([]byte(t))) {
			b, _ := json.Marshal(s)
			return b // a plain string
		}
		raw = json.RawMessage(t)
	}
	return raw
}

// String returns a Metadata value as a string ("" when absent).
func (inv *Invocation) String(key string) string {
	raw, ok := inv.Metadata[key]
	if !ok {
		return ""
	}
	raw = unwrap(raw)
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return strings.Trim(string(raw), `"`)
}

// Int returns a Metadata value as an integer (0 when absent or not a number).
func (inv *Invocation) Int(key string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(inv.String(key)))
	return n
}

// Body returns the trigger value bound to name as the JSON document it
// carries: a JSON object as it is; a string holding JSON, unquoted; a
// base64 string (dataType binary), decoded.
// Returns an error when there is no such binding or it holds no JSON.
func (inv *Invocation) Body(name string) (json.RawMessage, error) {
	raw, ok := inv.Data[name]
	if !ok {
		return nil, fmt.Errorf("funchost: no %q in the invocation's Data", name)
	}
	raw = unwrap(raw)
	trimmed := strings.TrimSpace(string(raw))
	if (strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) && json.Valid([]byte(trimmed)) {
		return json.RawMessage(trimmed), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil && json.Valid(b) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("funchost: %q holds no JSON document", name)
}

// ServiceBusMetadata builds the Metadata the host sends with a Service Bus
// trigger, encoded as the host encodes it.
func ServiceBusMetadata(messageID, sessionID, correlationID string, deliveryCount int, sequence int64, enqueued string, props map[string]string) map[string]json.RawMessage {
	enc := func(v any) json.RawMessage {
		inner, _ := json.Marshal(v)
		outer, _ := json.Marshal(string(inner))
		return outer
	}
	if props == nil {
		props = map[string]string{}
	}
	applicationProperties, _ := json.Marshal(props)
	return map[string]json.RawMessage{
		"MessageId":             enc(messageID),
		"SessionId":             enc(sessionID),
		"CorrelationId":         enc(correlationID),
		"DeliveryCount":         enc(deliveryCount),
		"SequenceNumber":        enc(sequence),
		"EnqueuedTimeUtc":       enc(enqueued),
		"ContentType":           enc("application/json"),
		"ApplicationProperties": applicationProperties,
		"UserProperties":        applicationProperties,
	}
}

// StringData encodes a string trigger body as the host does.
func StringData(body []byte) json.RawMessage {
	inner, _ := json.Marshal(string(body))
	outer, _ := json.Marshal(string(inner))
	return outer
}
