package tre

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error for the API and for callers that branch on it.
// The API maps each code to one HTTP status in a single table
// (internal/api/problem.go).
type Code string

// Error codes. The set is small on purpose: callers branch on the code, and
// the message carries the detail.
const (
	CodeInvalid              Code = "invalid"               // 400: bad input
	CodeUnauthorized         Code = "unauthorized"          // 401: no or bad credentials
	CodeForbidden            Code = "forbidden"             // 403: authenticated, not allowed
	CodeNotFound             Code = "not_found"             // 404
	CodeConflict             Code = "conflict"              // 409: state forbids it (exists, not deployed, etag via AzureTRE's header)
	CodeMethodNotAllowed     Code = "method_not_allowed"    // 405
	CodePreconditionFailed   Code = "precondition_failed"   // 412: stale etag
	CodeTooLarge             Code = "too_large"             // 413: request body over the limit
	CodeUnsupportedMedia     Code = "unsupported_media"     // 415: body is not JSON
	CodeUnprocessable        Code = "unprocessable"         // 422: well-formed but semantically invalid (AzureTRE uses 422 here)
	CodePreconditionRequired Code = "precondition_required" // 428: a conditional request was required
	CodeTooManyRequests      Code = "too_many_requests"     // 429: the caller holds too many of a capped resource (event streams)
	CodeUnavailable          Code = "unavailable"           // 503: a dependency is down
	CodeNotImplemented       Code = "not_implemented"       // 501: a feature not built yet
	CodeInternal             Code = "internal"              // 500: a bug
)

// Error is the one error type of the system. Message is safe to show to the
// client; Err (the cause) is logged, never shown.
type Error struct {
	Code    Code
	Message string
	// Field names the input at fault ("properties.display_name",
	// "templateName", "If-Match"), when there is one.
	Field string
	// Fields lists every field at fault when a validation found several.
	Fields []FieldError
	Err    error
}

// FieldError is one problem with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Code)
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error that names the field at fault.
func FieldErrorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with the code and message that keeps err as its
// cause for the logs.
func WrapError(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and CodeInternal for an error without one.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err: the message of the
// first *Error in the chain, or a generic text for an error without a code.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal && e.Message != "" {
		return e.Message
	}
	return "An internal error occurred."
}

// IsCode reports whether err carries code.
func IsCode(err error, code Code) bool { return err != nil && ErrorCode(err) == code }

// InvalidFields returns a CodeInvalid *Error listing every problem, with a
// message that starts with title and names each field; nil if there are
// none.
func InvalidFields(title string, problems []FieldError) error {
	if len(problems) == 0 {
		return nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Field + ": " + p.Message
	}
	return &Error{
		Code:    CodeInvalid,
		Message: title + ": " + strings.Join(msgs, "; "),
		Field:   problems[0].Field,
		Fields:  problems,
	}
}
