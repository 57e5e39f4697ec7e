package cosmos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

// responseError is the error the SDK returns for an HTTP status.
func responseError(status int) error {
	req, _ := http.NewRequest(http.MethodPut, "https://acct.documents.azure.com/dbs/d/colls/c/docs/x", nil)
	return runtime.NewResponseError(&http.Response{
		StatusCode: status,
		Status:     http.StatusText(status),
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(`{"code":"x","message":"y"}`)),
		Request:    req,
	})
}

func TestItemErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   tre.Code
	}{
		{http.StatusNotFound, tre.CodeNotFound},
		{http.StatusConflict, tre.CodeConflict},
		{http.StatusPreconditionFailed, tre.CodePreconditionFailed},
		{http.StatusTooManyRequests, tre.CodeUnavailable},
		{http.StatusRequestTimeout, tre.CodeUnavailable},
		{http.StatusGone, tre.CodeUnavailable},
		{449, tre.CodeUnavailable},
		{http.StatusInternalServerError, tre.CodeUnavailable},
		{http.StatusServiceUnavailable, tre.CodeUnavailable},
		{http.StatusBadRequest, tre.CodeInvalid},
		{http.StatusRequestEntityTooLarge, tre.CodeInvalid},
		// A bad key or a missing role assignment is the operator's to fix,
		// not the client's: internal.
		{http.StatusUnauthorized, tre.CodeInternal},
		{http.StatusForbidden, tre.CodeInternal},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			cause := responseError(tc.status)
			err := itemError(fmt.Errorf("cosmos: replace Resources/x: %w", cause), tre.Resources, "x", `"e1"`)
			require.Equal(t, tc.code, tre.ErrorCode(err), "error: %v", err)
			require.ErrorIs(t, err, cause, "the vendor error stays in the chain")
			require.ErrorContains(t, err, "cosmos: replace Resources/x: ")
		})
	}
}

func TestTransportErrorsAreUnavailable(t *testing.T) {
	for _, cause := range []error{
		errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
		context.DeadlineExceeded,
		context.Canceled,
	} {
		err := itemError(fmt.Errorf("cosmos: get Resources/x: %w", cause), tre.Resources, "x", "")
		require.Equal(t, tre.CodeUnavailable, tre.ErrorCode(err))
		require.Equal(t, "The configuration store (Cosmos DB) is not responding", tre.ErrorMessage(err))
		require.ErrorIs(t, err, cause, "callers can still tell a cancelled context")
	}
}
