package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/tre-go/tre/internal/tre"
)

// ServiceError is an error answer of Key Vault: the HTTP status and Key
// Vault's error code, inner code and message. It is the cause of the
// *tre.Error the store returns, for callers (and logs) that want the
// detail; it never holds a secret value.
type ServiceError struct {
	StatusCode int
	Code       string
	InnerCode  string
	Message    string
}

// Error returns the status, codes and message.
func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.InnerCode != "" {
		b.WriteString("/" + e.InnerCode)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// serviceError reads Key Vault's error from a non-2xx answer, with value
// (when not empty) scrubbed from its message: Key Vault's messages do not
// quote values, but a proxy in between might echo the request. The SDK's
// ResponseError has the top-level code only; the inner code (what tells
// ForbiddenByRbac from a firewall, or a name in soft delete) is read here.
func serviceError(resp *http.Response, value string) *ServiceError {
	e := &ServiceError{StatusCode: resp.StatusCode}
	var body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if data, err := runtime.Payload(resp); err == nil && json.Unmarshal(data, &body) == nil {
		e.Code, e.InnerCode, e.Message = body.Error.Code, body.Error.InnerError.Code, body.Error.Message
	}
	e.Code, e.InnerCode, e.Message = redact(e.Code, value), redact(e.InnerCode, value), redact(e.Message, value)
	return e
}

// callError maps the error of an azsecrets call for the op ("get", "put",
// "delete") of secret name; raw is the vault's last answer, if any.
func (s *Store) callError(ctx context.Context, err error, raw *http.Response, op, name, value string) error {
	// Key Vault's error answer. The *azcore.ResponseError is not kept: its
	// text quotes the body.
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		return s.statusError(re.RawResponse, op, name, value)
	}
	// The caller gave up: the error is returned as is (still matching
	// context.Canceled).
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return err
		}
		return fmt.Errorf("%w: %w", cerr, err)
	}
	var te *tokenError
	switch {
	case errors.As(err, &te):
		return tre.WrapError(tre.CodeUnavailable, err, "no token for Key Vault %s (scope %s)", s.vault, strings.Join(te.scopes, " "))
	case raw != nil && raw.StatusCode == http.StatusOK:
		// An answer the SDK could not decode. Its error is not kept: it
		// may quote part of the value.
		return notASecret(raw)
	case raw != nil && raw.StatusCode == http.StatusUnauthorized:
		return tre.WrapError(tre.CodeUnavailable, err,
			"Key Vault %s sent an authentication challenge the client refused (its resource must be the vault's own domain)", s.vault)
	}
	// No answer: the vault cannot be reached or did not answer within the
	// try timeout, after retries.
	return tre.WrapError(tre.CodeUnavailable, err, "Key Vault %s is unreachable", s.vault)
}

// notASecret is the error of a 200 answer that holds no secret value.
func notASecret(raw *http.Response) error {
	n := 0
	if raw != nil {
		if data, err := runtime.Payload(raw); err == nil {
			n = len(data)
		}
	}
	return fmt.Errorf("the answer (%d bytes) is not a secret with a value", n)
}

// statusError maps a non-2xx answer to the op ("get", "put", "delete") of
// secret name to a *tre.Error. Key Vault refusing the identity (401, 403)
// is CodeUnavailable, like a vault that is down or throttling (408, 429,
// 5xx, already retried by azcore): the caller did nothing wrong and the
// operator must act.
func (s *Store) statusError(resp *http.Response, op, name, value string) error {
	svc := serviceError(resp, value)
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		return tre.WrapError(tre.CodeNotFound, svc, "secret %s not found", name)
	case code == http.StatusBadRequest:
		return tre.WrapError(tre.CodeInvalid, svc, "Key Vault refused secret %s (%s)", name, svc.Code)
	case code == http.StatusConflict:
		// In practice a name in soft delete (ObjectIsDeletedButRecoverable):
		// names are never reused, so this is a bug or a manual deletion.
		return tre.WrapError(tre.CodeConflict, svc,
			"secret %s is in a conflicting state in Key Vault (deleted but not purged names cannot be written)", name)
	case code == http.StatusUnauthorized:
		return tre.WrapError(tre.CodeUnavailable, svc,
			"Key Vault %s refused the token (HTTP 401): the identity's tenant does not match the vault's", s.vault)
	case code == http.StatusForbidden:
		return tre.WrapError(tre.CodeUnavailable, svc,
			"Key Vault %s refused to %s secrets (HTTP 403 %s): the identity lacks a role on the vault "+
				"(Key Vault Secrets Officer to write, Secrets User to read), or the vault's firewall blocks this network", s.vault, op, svc.code())
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return tre.WrapError(tre.CodeUnavailable, svc,
			"Key Vault %s is unavailable or throttling (HTTP %d), after retries", s.vault, code)
	}
	return fmt.Errorf("unexpected answer: %w", svc)
}

// code is the most specific of Key Vault's codes.
func (e *ServiceError) code() string {
	if e.InnerCode != "" {
		return e.InnerCode
	}
	return e.Code
}
