package config_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/config"
)

func TestEnvReportsEveryProblem(t *testing.T) {
	table := []config.Setting{
		{Name: "PORT", Default: "8080"}, {Name: "TIMEOUT", Default: "30s"}, {Name: "LEVEL", Default: "info"},
		{Name: "FLAG", Default: "false"}, {Name: "KEY", Secret: true}, {Name: "NAME"},
	}
	env := map[string]string{"PORT": "99999", "TIMEOUT": "soon", "LEVEL": "loud", "FLAG": "maybe", "KEY": "s3cret"}
	e := config.New(table, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.Equal(t, 8080, e.Int("PORT", 1, 65535))
	require.Equal(t, 30*time.Second, e.Duration("TIMEOUT", time.Second, time.Hour))
	require.Equal(t, "info", e.OneOf("LEVEL", "debug", "info"))
	e.Bool("FLAG")
	e.Required("NAME", "to name things")
	e.Int("KEY", 1, 2)
	e.String("UNDECLARED")
	err := e.Err()
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"PORT", "TIMEOUT", "LEVEL", "FLAG", "NAME: required", "UNDECLARED", "KEY: \"(hidden)\""} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, "s3cret", "secret values never appear in errors")
	require.Contains(t, msg, "7 problem(s)")

	ok := config.New(table, func(k string) (string, bool) { return "", false })
	require.Equal(t, 8080, ok.Int("PORT", 1, 65535))
	require.NoError(t, ok.Err())
}
