// Package cidr allocates IPv4 address spaces for workspaces: the TRE's
// address space minus the core's and minus what is already allocated, cut
// into blocks of the requested size (AzureTRE's cidr_service, with its
// "smallest free block first" rule).
package cidr

import (
	"fmt"
	"math/big"
	"net/netip"
	"sort"

	"github.com/tre-go/tre/internal/tre"
)

// Sizes maps AzureTRE's address_space_size values to prefix lengths.
var Sizes = map[string]int{"small": 24, "medium": 22, "large": 16}

// Free returns the free blocks of space after removing every prefix in used
// (the core address space and existing allocations), sorted by address.
func Free(space netip.Prefix, used []netip.Prefix) []netip.Prefix {
	free := []netip.Prefix{space.Masked()}
	for _, u := range used {
		u = u.Masked()
		var next []netip.Prefix
		for _, f := range free {
			next = append(next, subtract(f, u)...)
		}
		free = next
	}
	sort.Slice(free, func(i, j int) bool { return free[i].Addr().Less(free[j].Addr()) })
	return free
}

// subtract returns f minus u as a list of prefixes.
func subtract(f, u netip.Prefix) []netip.Prefix {
	if !f.Overlaps(u) {
		return []netip.Prefix{f}
	}
	if u.Bits() <= f.Bits() {
		return nil // u covers f
	}
	// Split f in halves and recurse into the half that holds u.
	lo, hi := halves(f)
	return append(subtract(lo, u), subtract(hi, u)...)
}

func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits() + 1
	lo := netip.PrefixFrom(p.Addr(), bits)
	hiAddr := addOffset(p.Addr(), new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-bits)))
	return lo, netip.PrefixFrom(hiAddr, bits)
}

func addOffset(a netip.Addr, off *big.Int) netip.Addr {
	n := new(big.Int).SetBytes(a.AsSlice())
	n.Add(n, off)
	b := n.Bytes()
	buf := make([]byte, len(a.AsSlice()))
	copy(buf[len(buf)-len(b):], b)
	out, _ := netip.AddrFromSlice(buf)
	return out
}

// Allocate returns the first block of the given prefix length in the
// smallest free block that can hold one. Returns CodeConflict when the
// space is exhausted, CodeInvalid for a prefix length outside 8..31.
func Allocate(space netip.Prefix, used []netip.Prefix, bits int) (netip.Prefix, error) {
	if bits < 8 || bits > 31 || bits < space.Bits() {
		return netip.Prefix{}, tre.Errorf(tre.CodeInvalid, "cannot allocate a /%d in %s", bits, space)
	}
	var best netip.Prefix
	for _, f := range Free(space, used) {
		if f.Bits() > bits {
			continue
		}
		if !best.IsValid() || f.Bits() > best.Bits() {
			best = f
		}
	}
	if !best.IsValid() {
		return netip.Prefix{}, tre.Errorf(tre.CodeConflict, "Not enough space in network: no free /%d left in %s", bits, space)
	}
	return netip.PrefixFrom(best.Addr(), bits), nil
}

// Available reports whether want lies wholly in free space.
func Available(space netip.Prefix, used []netip.Prefix, want netip.Prefix) bool {
	want = want.Masked()
	for _, f := range Free(space, used) {
		if f.Bits() <= want.Bits() && f.Contains(want.Addr()) {
			return true
		}
	}
	return false
}

// Parse parses an IPv4 CIDR and requires it to be the network address
// (10.1.0.0/24, not 10.1.0.5/24). Returns CodeInvalid.
func Parse(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, tre.Errorf(tre.CodeInvalid, "%q is not an IPv4 CIDR such as 10.1.0.0/24", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, tre.Errorf(tre.CodeInvalid, "%q is not a network address: did you mean %s?", s, p.Masked())
	}
	return p, nil
}

// MustParse is Parse for constants and tests.
func MustParse(s string) netip.Prefix {
	p, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("cidr: %v", err))
	}
	return p
}
