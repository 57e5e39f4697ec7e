package cidr

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tre-go/tre/internal/tre"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = MustParse(s)
	}
	return out
}

func TestFree(t *testing.T) {
	require.Equal(t, prefixes("10.0.0.0/24"), Free(MustParse("10.0.0.0/24"), nil))
	require.Equal(t, prefixes("10.0.0.0/24", "10.0.2.0/23"), Free(MustParse("10.0.0.0/22"), prefixes("10.0.1.0/24")))
	require.Empty(t, Free(MustParse("10.0.0.0/24"), prefixes("10.0.0.0/16")))
	require.Equal(t, prefixes("10.0.0.0/22"), Free(MustParse("10.0.0.0/22"), prefixes("192.168.0.0/24")))
}

func TestAllocate(t *testing.T) {
	space := MustParse("10.0.0.0/16")
	core := MustParse("10.0.0.0/22")
	used := []netip.Prefix{core}
	got, err := Allocate(space, used, 24)
	require.NoError(t, err)
	require.Equal(t, MustParse("10.0.4.0/24"), got, "first /24 after the core")

	// Smallest free block first: a hole of one /24 is filled before a big block is cut.
	used = prefixes("10.0.0.0/22", "10.0.5.0/24", "10.0.6.0/23")
	got, err = Allocate(space, used, 24)
	require.NoError(t, err)
	require.Equal(t, MustParse("10.0.4.0/24"), got)

	_, err = Allocate(space, used, 16)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
	got, err = Allocate(space, nil, 16)
	require.NoError(t, err)
	require.Equal(t, space, got)

	_, err = Allocate(space, nil, 7)
	require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err))

	// Exhaust a /22 with /24s: four allocations, all distinct, then none.
	small := MustParse("10.9.0.0/22")
	var taken []netip.Prefix
	for range 4 {
		p, err := Allocate(small, taken, 24)
		require.NoError(t, err)
		for _, q := range taken {
			require.False(t, p.Overlaps(q))
		}
		taken = append(taken, p)
	}
	_, err = Allocate(small, taken, 24)
	require.Equal(t, tre.CodeConflict, tre.ErrorCode(err))
}

func TestAvailableAndParse(t *testing.T) {
	space := MustParse("10.0.0.0/16")
	used := prefixes("10.0.0.0/22", "10.0.8.0/24")
	require.True(t, Available(space, used, MustParse("10.0.4.0/24")))
	require.False(t, Available(space, used, MustParse("10.0.8.0/24")))
	require.False(t, Available(space, used, MustParse("10.0.0.0/21")), "overlaps the core")
	require.False(t, Available(space, used, MustParse("10.1.0.0/24")), "outside the space")
	for _, bad := range []string{"10.0.0.1/24", "x", "fd00::/64", "10.0.0.0"} {
		_, err := Parse(bad)
		require.Equal(t, tre.CodeInvalid, tre.ErrorCode(err), bad)
	}
}
