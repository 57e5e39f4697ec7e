package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/porter"
)

// cloud-init installs the porter, mixins and plugin the agent checks for
// at start: AzureTRE's versions.
func TestCloudInitInstallsAzureTREsPorter(t *testing.T) {
	b, err := os.ReadFile("cloud-init.yaml")
	require.NoError(t, err)
	src := string(b)
	version := func(name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^\s+` + name + `=(\S+)$`).FindStringSubmatch(src)
		require.NotNil(t, m, "cloud-init.yaml sets %s", name)
		return m[1]
	}
	want := porter.AzureTREVersions
	require.Equal(t, want.Porter, version("porter_version"))
	require.Len(t, want.Mixins, 3)
	require.Len(t, want.Plugins, 1)
	for name, v := range want.Mixins {
		require.Equal(t, v, version(name+"_mixin_version"), "the %s mixin", name)
		require.Contains(t, src, `"$porter_home/porter" mixin install `+name+` --version "$`+name+`_mixin_version"`)
	}
	for name, v := range want.Plugins {
		require.Equal(t, v, version(name+"_plugin_version"), "the %s plugin", name)
		require.Contains(t, src, `"$porter_home/porter" plugin install `+name+` --version "$`+name+`_plugin_version"`)
	}
	require.Contains(t, src, `https://cdn.porter.sh/$porter_version/porter-linux-amd64`)
}
