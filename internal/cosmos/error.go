package cosmos

import (
	"errors"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tre-go/tre/internal/tre"
)

// unavailableMessage is what the client sees when Cosmos cannot serve.
const (
	unavailableMessage  = "The configuration store (Cosmos DB) is not responding"
	notConnectedMessage = "The configuration store (Cosmos DB) is not connected yet: the handler keeps trying"
)

// statusCode returns the HTTP status of a Cosmos error, 0 if err is not a
// response from Cosmos (a transport error, a cancelled context).
func statusCode(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// storeError gives err (already wrapped with its context) the code of what
// went wrong with the store itself: the service or the network is down,
// throttling outlasted the SDK's retries, or the request was refused.
// Errors without a code (401/403: a bad key or missing role assignment) are
// internal: the operator must fix the deployment.
func storeError(err error) error {
	switch code := statusCode(err); {
	case code == 0, // unreachable, timeout, cancelled
		code == http.StatusRequestTimeout,
		code == http.StatusGone,
		code == http.StatusTooManyRequests,
		code == 449, // retry with: a concurrent write conflict on the server
		code >= 500:
		return tre.WrapError(tre.CodeUnavailable, err, unavailableMessage)
	case code == http.StatusBadRequest, code == http.StatusRequestEntityTooLarge:
		return tre.WrapError(tre.CodeInvalid, err, "The configuration store rejected the request")
	}
	return err
}

// itemError maps the outcome of a point operation on document id of
// collection c, conditional on etag if not empty.
func itemError(err error, c tre.Collection, id, etag string) error {
	switch statusCode(err) {
	case http.StatusNotFound:
		return tre.WrapError(tre.CodeNotFound, err, "%s %s not found", c, id)
	case http.StatusConflict:
		return tre.WrapError(tre.CodeConflict, err, "%s %s already exists", c, id)
	case http.StatusPreconditionFailed:
		return tre.WrapError(tre.CodePreconditionFailed, err, "%s %s has changed since etag %s was read", c, id, etag)
	}
	return storeError(err)
}
