package tre

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion("1.2.3-rc.1+build.7")
	require.NoError(t, err)
	require.Equal(t, Version{1, 2, 3, []string{"rc", "1"}, "build.7"}, v)
	for _, bad := range []string{"", "1", "1.2", "v1.2.3", "01.2.3", "1.2.3-", "1.2.3 ", "a.b.c", "1.2.3-01"} {
		_, err := ParseVersion(bad)
		require.Equal(t, CodeInvalid, ErrorCode(err), bad)
	}
}

func TestCompareVersions(t *testing.T) {
	// semver.org's precedence example, shuffled.
	want := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	got := []string{"2.0.0", "1.0.0-beta.11", "1.10.0", "1.0.0", "1.0.0-alpha.beta", "1.0.0-alpha", "1.0.1",
		"1.0.0-rc.1", "1.0.0-beta.2", "1.2.0", "1.0.0-alpha.1", "1.0.0-beta"}
	sort.Slice(got, func(i, j int) bool { return CompareVersions(got[i], got[j]) < 0 })
	require.Equal(t, want, got)
	require.Equal(t, 0, CompareVersions("1.0.0+a", "1.0.0+b"))
}
