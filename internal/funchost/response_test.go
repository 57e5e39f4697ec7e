package funchost

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every answer carries the three fields of the custom-handler protocol,
// Outputs as an object and ReturnValue set, and a failure keeps its Logs.
func TestWriteResponseHasEveryField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		logs   []string
		ret    string
	}{
		{"ok", http.StatusOK, []string{"applied: step s1 deployed"}, "applied: step s1 deployed"},
		{"failure keeps its logs", http.StatusInternalServerError, []string{"retry: The configuration store is not responding"}, "retry: The configuration store is not responding"},
		{"no logs", http.StatusOK, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteResponse(rec, tc.status, tc.logs...)
			require.Equal(t, tc.status, rec.Code)
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
			require.JSONEq(t, `{}`, string(raw["Outputs"]))
			want := tc.logs
			if want == nil {
				want = []string{}
			}
			var logs []string
			require.NoError(t, json.Unmarshal(raw["Logs"], &logs))
			require.Equal(t, want, logs)
			var ret string
			require.NoError(t, json.Unmarshal(raw["ReturnValue"], &ret))
			require.Equal(t, tc.ret, ret)
		})
	}
}
