package api

import (
	"encoding/json"
	"net/http"

	"github.com/tre-go/tre/internal/tre"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[tre.Code]int{
	tre.CodeInvalid:              http.StatusBadRequest,
	tre.CodeUnauthorized:         http.StatusUnauthorized,
	tre.CodeForbidden:            http.StatusForbidden,
	tre.CodeNotFound:             http.StatusNotFound,
	tre.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	tre.CodeConflict:             http.StatusConflict,
	tre.CodePreconditionFailed:   http.StatusPreconditionFailed,
	tre.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	tre.CodeUnsupportedMedia:     http.StatusUnsupportedMediaType,
	tre.CodeUnprocessable:        http.StatusUnprocessableEntity,
	tre.CodePreconditionRequired: http.StatusPreconditionRequired,
	tre.CodeTooManyRequests:      http.StatusTooManyRequests,
	tre.CodeUnavailable:          http.StatusServiceUnavailable,
	tre.CodeNotImplemented:       http.StatusNotImplemented,
	tre.CodeInternal:             http.StatusInternalServerError,
}

// StatusOf returns the HTTP status for an error's code.
func StatusOf(err error) int {
	if s, ok := statusOf[tre.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details body, with the error code, the
// field at fault and the request id as extensions.
type Problem struct {
	Type      string           `json:"type"`
	Title     string           `json:"title"`
	Status    int              `json:"status"`
	Detail    string           `json:"detail"`
	Instance  string           `json:"instance,omitempty"`
	Code      tre.Code         `json:"code"`
	Field     string           `json:"field,omitempty"`
	Errors    []tre.FieldError `json:"errors,omitempty"`
	RequestID string           `json:"requestId,omitempty"`
}

// problemOf builds the client's view of err: its message if it has a code,
// a generic text (and the request id to quote) if not.
func problemOf(err error, r *http.Request) Problem {
	status := StatusOf(err)
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    tre.ErrorMessage(err),
		Instance:  r.URL.Path,
		Code:      tre.ErrorCode(err),
		RequestID: requestID(r.Context()),
	}
	var e *tre.Error
	if asError(err, &e) && e.Code != tre.CodeInternal {
		p.Field = e.Field
		p.Errors = e.Fields
	}
	if p.Code == tre.CodeInternal {
		p.Detail = "An internal error occurred. Quote request id " + p.RequestID + " when you report it."
	}
	return p
}

func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err, r)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
