package azcred

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

// identityEndpoint stands in for App Service's managed identity endpoint
// (IDENTITY_ENDPOINT), recording the token requests.
func identityEndpoint(t *testing.T) func() []url.Values {
	t.Helper()
	var mu sync.Mutex
	var seen []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-IDENTITY-HEADER") != "identity-secret" {
			http.Error(w, "no identity header", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		seen = append(seen, r.URL.Query())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-for-%s","expires_on":"%d","resource":%q,"token_type":"Bearer"}`,
			r.URL.Query().Get("client_id"), time.Now().Add(time.Hour).Unix(), r.URL.Query().Get("resource"))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("IDENTITY_ENDPOINT", srv.URL)
	t.Setenv("IDENTITY_HEADER", "identity-secret")
	// No credentials in the environment (the chain would try them first).
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT"} {
		t.Setenv(k, "") // restored after the test
		require.NoError(t, os.Unsetenv(k))
	}
	return func() []url.Values {
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

func token(t *testing.T, clientID string) string {
	t.Helper()
	cred, err := New(clientID)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	require.NoError(t, err)
	return tok.Token
}

func TestClientIDSelectsTheUserAssignedIdentity(t *testing.T) {
	seen := identityEndpoint(t)
	require.Equal(t, "token-for-0000-client", token(t, "0000-client"))
	require.Len(t, seen(), 1)
	require.Equal(t, "0000-client", seen()[0].Get("client_id"))
	require.Equal(t, "https://vault.azure.net", seen()[0].Get("resource"))
}

func TestNoClientIDUsesTheDefaultChain(t *testing.T) {
	seen := identityEndpoint(t)
	// Without environment credentials, the chain reaches the managed
	// identity: the system-assigned one, named by no client id.
	require.Equal(t, "token-for-", token(t, ""))
	require.NotEmpty(t, seen())
	require.False(t, seen()[0].Has("client_id"))
}
