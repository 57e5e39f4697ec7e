package cosmostest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/cosmos/cosmostest"
)

// client is an SDK client on srv.
func client(t *testing.T, srv cosmostest.Server) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(srv.Key)
	require.NoError(t, err)
	c, err := azcosmos.NewClientWithKey(srv.Endpoint, cred, &azcosmos.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: srv.Client},
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestStart(t *testing.T) {
	ctx := context.Background()
	srv := cosmostest.Start(t)
	require.True(t, strings.HasPrefix(srv.Endpoint, "https://127.0.0.1:"), srv.Endpoint)
	require.Equal(t, srv, cosmostest.Start(t), "one server for the binary")

	c := client(t, srv)
	name := cosmostest.DatabaseName()
	_, err := c.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: name}, nil)
	require.NoError(t, err)
	db, err := c.NewDatabase(name)
	require.NoError(t, err)
	got, err := db.Read(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, name, got.DatabaseProperties.ID)

	// The next name is another database.
	other, err := c.NewDatabase(cosmostest.DatabaseName())
	require.NoError(t, err)
	_, err = other.Read(ctx, nil)
	var respErr *azcore.ResponseError
	require.ErrorAs(t, err, &respErr)
	require.Equal(t, http.StatusNotFound, respErr.StatusCode)
}

func TestStartInstancePlainHTTP(t *testing.T) {
	ctx := context.Background()
	srv := cosmostest.StartInstance(t, cosmostest.Options{PlainHTTP: true})
	require.True(t, strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:"), srv.Endpoint)
	require.NotEqual(t, cosmostest.Start(t).Endpoint, srv.Endpoint)

	c := client(t, srv.Server)
	_, err := c.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "plain"}, nil)
	require.NoError(t, err)

	require.NoError(t, srv.Stop())
	_, err = srv.Client.Get(srv.Endpoint)
	require.ErrorContains(t, err, "connection refused", "stopped")
}
