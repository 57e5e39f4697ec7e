package sqlite_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/sqlite"
	"github.com/tre-go/tre/internal/storetest"
	"github.com/tre-go/tre/internal/tre"
)

func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func() tre.Store {
		dir := t.TempDir()
		return func() tre.Store {
			s, err := sqlite.OpenStore(context.Background(), dir)
			require.NoError(t, err)
			return s
		}
	})
}
