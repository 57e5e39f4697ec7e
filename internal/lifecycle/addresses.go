package lifecycle

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/tre-go/tre/internal/cidr"
	"github.com/tre-go/tre/internal/tre"
)

// Address spaces are allocated from blocks: the TRE's address space is cut
// into blocks of /20 (the whole space if it is smaller), and each block is
// one document of the allocations it holds (at most sixteen /24s), changed
// with its etag. So allocating or freeing reads and writes one small
// document whatever the number of workspaces, two allocations cannot both
// write the same version of a block (no overlap, across handler instances,
// on any store), and an allocation larger than a block claims every block
// it covers, one after the other, giving back those it got if one is
// taken.
//
// A size is allocated in the first block, in a fixed order, that has room
// for it, by AzureTRE's rule inside the block (the smallest free range
// that can hold it); blocks are taken in address order from the core's, so
// the first workspaces sit next to the core as with AzureTRE. Each handler
// instance remembers, per size, the first block that may have room: blocks
// before it are known full, so an allocation reads one or two blocks. Space
// freed by another instance in a block before its mark is used by this one
// after a restart.
//
// With tre.Atomic (the embedded store), allocations are written in the
// transaction that creates their resource. Otherwise an allocation is
// written first, marked pending; the sweep confirms pending allocations
// older than RecoverAfter whose resource exists and drops the others (their
// creation never happened). A resource's allocation is found again through
// its address_space property when it is deleted.
const blockBits = 20

// addressBlock is one block's document.
type addressBlock struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Block string `json:"block"`
	// Pending says some entry is pending (the sweep's query).
	Pending bool           `json:"pending,omitempty"`
	Entries []addressEntry `json:"entries"`
	ETag    string         `json:"_etag,omitempty"`
}

func (b *addressBlock) SetETag(e string) { b.ETag = e }

// addressEntry is an allocation, or the part of one inside the block.
type addressEntry struct {
	CIDR string `json:"cidr"`
	// Space is the whole allocation when it spans several blocks.
	Space      string  `json:"space,omitempty"`
	ResourceID string  `json:"resourceId"`
	When       float64 `json:"when"`
	Pending    bool    `json:"pending,omitempty"`
}

const blockKind = "address-block"

// addressBook is the geometry of the blocks and this instance's marks.
// Copies of a Service bound to a transaction share it.
type addressBook struct {
	space, core netip.Prefix
	bits        int // block prefix length
	n           int // blocks
	first       int // the core's block: the first in the order

	mu       sync.Mutex
	mark     map[int]int // prefix length → position (in the order) of the first block that may have room
	migrated bool        // the legacy ledger was folded into blocks
}

func newAddressBook(space, core netip.Prefix) *addressBook {
	space = space.Masked()
	b := &addressBook{space: space, core: core.Masked(), bits: max(blockBits, space.Bits()), mark: map[int]int{}}
	if !space.IsValid() || !space.Addr().Is4() {
		return b
	}
	b.n = 1 << (b.bits - space.Bits())
	if b.core.IsValid() && space.Contains(b.core.Addr()) {
		b.first = b.index(b.core.Addr())
	}
	return b
}

func u32(a netip.Addr) uint32 { return binary.BigEndian.Uint32(a.AsSlice()) }

func addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// index is the block of an address of the space.
func (b *addressBook) index(a netip.Addr) int {
	return int((u32(a) - u32(b.space.Addr())) >> (32 - b.bits))
}

// block is the prefix of block i.
func (b *addressBook) block(i int) netip.Prefix {
	return netip.PrefixFrom(addr(u32(b.space.Addr())+uint32(i)<<(32-b.bits)), b.bits)
}

func blockID(p netip.Prefix) string {
	return "address-block-" + strings.ReplaceAll(p.String(), "/", "-")
}

// covering lists the blocks p covers or lies in, in address order; none
// when p is not inside the space.
func (b *addressBook) covering(p netip.Prefix) []int {
	p = p.Masked()
	if b.n == 0 || !p.Addr().Is4() || p.Bits() < b.space.Bits() || !b.space.Contains(p.Addr()) {
		return nil
	}
	first := b.index(p.Addr())
	count := 1
	if p.Bits() < b.bits {
		count = 1 << (b.bits - p.Bits())
	}
	out := make([]int, count)
	for i := range out {
		out[i] = first + i
	}
	return out
}

func (b *addressBook) markOf(bits int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mark[bits]
}

// passed records that the block at position pos had no room for a
// /bits, if it was the first that might have.
func (b *addressBook) passed(bits, pos int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mark[bits] == pos {
		b.mark[bits] = pos + 1
	}
}

// freed moves every mark back to block i, which has room again.
func (b *addressBook) freed(i int) {
	pos := (i - b.first + b.n) % b.n
	b.mu.Lock()
	defer b.mu.Unlock()
	for bits, m := range b.mark {
		if pos < m {
			b.mark[bits] = pos
		}
	}
}

// allocate gives resourceID an address space: a block of the size named
// (small /24, medium /22, large /16; unknown sizes are small, as in
// AzureTRE), or the custom CIDR if one is given. Returns CodeUnprocessable
// for a custom range that is malformed or taken, CodeConflict when the
// space is exhausted.
func (s *Service) allocate(ctx context.Context, resourceID, size, custom string) (netip.Prefix, error) {
	bits, ok := cidr.Sizes[strings.ToLower(size)]
	if !ok {
		bits = cidr.Sizes["small"]
	}
	if err := s.migrateLedger(ctx); err != nil {
		return netip.Prefix{}, err
	}
	if strings.EqualFold(size, "custom") {
		if custom == "" {
			return netip.Prefix{}, tre.FieldErrorf(tre.CodeUnprocessable, "properties.address_space", "Missing 'address_space' from properties.")
		}
		p, err := cidr.Parse(custom)
		if err != nil {
			return netip.Prefix{}, tre.FieldErrorf(tre.CodeUnprocessable, "properties.address_space", "%s", tre.ErrorMessage(err))
		}
		got, err := s.claim(ctx, resourceID, p)
		if err != nil {
			return netip.Prefix{}, err
		}
		if !got {
			return netip.Prefix{}, tre.FieldErrorf(tre.CodeUnprocessable, "properties.address_space",
				"The custom 'address_space' you requested does not fit in the current network.")
		}
		return p, nil
	}
	book := s.addr
	if bits < 8 || bits > 31 || bits < book.space.Bits() || book.n == 0 {
		return netip.Prefix{}, tre.Errorf(tre.CodeInvalid, "cannot allocate a /%d in %s", bits, book.space)
	}
	if bits < book.bits {
		return s.allocateBlocks(ctx, resourceID, bits)
	}
	for pos := book.markOf(bits); pos < book.n; pos++ {
		i := (book.first + pos) % book.n
		p, err := s.allocateIn(ctx, i, resourceID, bits)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.IsValid() {
			return p, nil
		}
		book.passed(bits, pos)
	}
	return netip.Prefix{}, tre.Errorf(tre.CodeConflict, "Not enough space in network: no free /%d left in %s", bits, book.space)
}

// allocateIn allocates a /bits in block i; the zero prefix when the block
// has no room.
func (s *Service) allocateIn(ctx context.Context, i int, resourceID string, bits int) (netip.Prefix, error) {
	blk := s.addr.block(i)
	var got netip.Prefix
	err := s.updateBlock(ctx, blk, func(b *addressBlock) bool {
		p, err := cidr.Allocate(blk, s.usedIn(blk, b), bits)
		if err != nil {
			got = netip.Prefix{}
			return false
		}
		got = p
		s.addEntry(b, addressEntry{CIDR: p.String(), ResourceID: resourceID})
		return true
	})
	return got, err
}

// allocateBlocks allocates a prefix larger than a block: the first aligned
// run of free blocks, in the blocks' order.
func (s *Service) allocateBlocks(ctx context.Context, resourceID string, bits int) (netip.Prefix, error) {
	book := s.addr
	per := 1 << (book.bits - bits)
	groups := book.n / per
	start := book.first / per
	for pos := book.markOf(bits); pos < groups; pos++ {
		g := (start + pos) % groups
		p := netip.PrefixFrom(book.block(g*per).Addr(), bits)
		got, err := s.claim(ctx, resourceID, p)
		if err != nil {
			return netip.Prefix{}, err
		}
		if got {
			return p, nil
		}
		book.passed(bits, pos)
	}
	return netip.Prefix{}, tre.Errorf(tre.CodeConflict, "Not enough space in network: no free /%d left in %s", bits, book.space)
}

// claim allocates exactly p to resourceID if it is free, block by block;
// false when it is not (outside the space, the core's, or taken: the
// blocks claimed before are given back).
func (s *Service) claim(ctx context.Context, resourceID string, p netip.Prefix) (bool, error) {
	blocks := s.addr.covering(p)
	if len(blocks) == 0 {
		return false, nil
	}
	var space string
	if len(blocks) > 1 {
		space = p.String()
	}
	for n, i := range blocks {
		blk := s.addr.block(i)
		part := p
		if len(blocks) > 1 {
			part = blk
		}
		ok := false
		err := s.updateBlock(ctx, blk, func(b *addressBlock) bool {
			ok = cidr.Available(blk, s.usedIn(blk, b), part)
			if ok {
				s.addEntry(b, addressEntry{CIDR: part.String(), Space: space, ResourceID: resourceID})
			}
			return ok
		})
		if err == nil && ok {
			continue
		}
		for _, j := range blocks[:n] {
			if rerr := s.releaseIn(ctx, s.addr.block(j), resourceID); rerr != nil && err == nil {
				err = rerr
			}
		}
		return false, err
	}
	return true, nil
}

// usedIn is what a block's allocations and the core take of it.
func (s *Service) usedIn(blk netip.Prefix, b *addressBlock) []netip.Prefix {
	var used []netip.Prefix
	if s.addr.core.IsValid() && s.addr.core.Overlaps(blk) {
		used = append(used, s.addr.core)
	}
	for _, e := range b.Entries {
		if p, err := netip.ParsePrefix(e.CIDR); err == nil {
			used = append(used, p)
		}
	}
	return used
}

// addEntry records an allocation in a block: confirmed at once in a
// transaction that creates its resource, pending otherwise.
func (s *Service) addEntry(b *addressBlock, e addressEntry) {
	e.When = s.ts()
	if !s.inTx {
		e.Pending, b.Pending = true, true
	}
	b.Entries = append(b.Entries, e)
}

// updateBlock applies fn to block blk's document and writes it with its
// etag if fn says it changed it, retrying from a fresh read when another
// writer got there first.
func (s *Service) updateBlock(ctx context.Context, blk netip.Prefix, fn func(*addressBlock) bool) error {
	id := blockID(blk)
	for attempt := 0; attempt < 200; attempt++ {
		b, err := tre.GetAs[addressBlock](ctx, s.store, tre.Allocations, id)
		if tre.IsCode(err, tre.CodeNotFound) {
			b, err = &addressBlock{ID: id, Kind: blockKind, Block: blk.String(), Entries: []addressEntry{}}, nil
		}
		if err != nil {
			return fmt.Errorf("lifecycle: address block %s: %w", blk, err)
		}
		if !fn(b) {
			return nil
		}
		b.Pending = slices.ContainsFunc(b.Entries, func(e addressEntry) bool { return e.Pending })
		if b.ETag == "" {
			_, err = tre.CreateAs(ctx, s.store, tre.Allocations, id, b)
			if tre.IsCode(err, tre.CodeConflict) {
				continue
			}
		} else {
			_, err = tre.ReplaceAs(ctx, s.store, tre.Allocations, id, b.ETag, b)
			if tre.IsCode(err, tre.CodePreconditionFailed) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("lifecycle: address block %s: %w", blk, err)
		}
		return nil
	}
	return tre.Errorf(tre.CodeUnavailable, "The address space ledger is too busy: try again")
}

// releaseIn drops resourceID's entries from a block.
func (s *Service) releaseIn(ctx context.Context, blk netip.Prefix, resourceID string) error {
	err := s.updateBlock(ctx, blk, func(b *addressBlock) bool {
		n := len(b.Entries)
		b.Entries = slices.DeleteFunc(b.Entries, func(e addressEntry) bool { return e.ResourceID == resourceID })
		return len(b.Entries) != n
	})
	if err == nil {
		s.addr.freed(s.addr.index(blk.Addr()))
	}
	return err
}

// releaseSpace frees the address space p held by resourceID.
func (s *Service) releaseSpace(ctx context.Context, resourceID string, p netip.Prefix) error {
	for _, i := range s.addr.covering(p) {
		if err := s.releaseIn(ctx, s.addr.block(i), resourceID); err != nil {
			return err
		}
	}
	return nil
}

// releaseAddresses frees the address space of a deleted resource, found
// through its address_space property (not updateable).
func (s *Service) releaseAddresses(ctx context.Context, r *tre.Resource) error {
	if err := s.migrateLedger(ctx); err != nil {
		return err
	}
	space, _ := r.Properties["address_space"].(string)
	p, err := netip.ParsePrefix(space)
	if err != nil {
		return nil // it never had one
	}
	return s.releaseSpace(ctx, r.ID, p)
}

// releaseOrphanAddresses settles pending allocations older than
// RecoverAfter: confirmed when their resource exists, dropped when it does
// not (the creation that allocated them never happened). It reads only
// the blocks that have pending entries.
func (s *Service) releaseOrphanAddresses(ctx context.Context) (int, error) {
	if err := s.migrateLedger(ctx); err != nil {
		return 0, err
	}
	blocks, err := tre.QueryAs[addressBlock](ctx, s.store, tre.Allocations, tre.Query{Where: []tre.Cond{
		tre.Eq("kind", blockKind), tre.Eq("pending", true),
	}})
	if err != nil {
		return 0, fmt.Errorf("lifecycle: pending address spaces: %w", err)
	}
	dropped := 0
	for _, b := range blocks {
		exists, err := s.pendingResources(ctx, b)
		if err != nil {
			return dropped, err
		}
		blk, perr := netip.ParsePrefix(b.Block)
		if len(exists) == 0 || perr != nil {
			continue
		}
		n, err := s.settleBlock(ctx, blk, exists)
		dropped += n
		if err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}

// pendingResources says, for each resource with an entry of the block
// pending since before RecoverAfter, whether it exists.
func (s *Service) pendingResources(ctx context.Context, b *addressBlock) (map[string]bool, error) {
	cutoff := tre.Timestamp(s.now().Add(-s.cfg.RecoverAfter))
	exists := map[string]bool{}
	for _, e := range b.Entries {
		if _, seen := exists[e.ResourceID]; seen || !e.Pending || e.When > cutoff {
			continue
		}
		_, err := s.getResource(ctx, e.ResourceID)
		if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
			return nil, err
		}
		exists[e.ResourceID] = err == nil
	}
	return exists, nil
}

// settleBlock confirms the pending entries of resources that exist and
// drops those of resources that do not; it returns how many it dropped.
func (s *Service) settleBlock(ctx context.Context, blk netip.Prefix, exists map[string]bool) (int, error) {
	n := 0
	err := s.updateBlock(ctx, blk, func(b *addressBlock) bool {
		n = 0
		kept := []addressEntry{}
		for _, e := range b.Entries {
			found, checked := exists[e.ResourceID]
			switch {
			case !e.Pending || !checked:
			case found:
				e.Pending = false
			default:
				n++
				continue
			}
			kept = append(kept, e)
		}
		b.Entries = kept
		// Written even if another instance settled them meanwhile: the
		// same outcome again.
		return true
	})
	if err == nil && n > 0 {
		s.addr.freed(s.addr.index(blk.Addr()))
	}
	return n, err
}

// The address-space ledger of earlier versions: one document of every
// allocation. migrateLedger folds it into blocks (as pending entries, so
// the sweep checks each once) and deletes it, once per process.
const ledgerID = "workspace-address-spaces"

type ledger struct {
	ID          string        `json:"id"`
	Allocations []ledgerEntry `json:"allocations"`
	ETag        string        `json:"_etag,omitempty"`
}

func (l *ledger) SetETag(e string) { l.ETag = e }

type ledgerEntry struct {
	CIDR       string  `json:"cidr"`
	ResourceID string  `json:"resourceId"`
	When       float64 `json:"when"`
}

func (s *Service) migrateLedger(ctx context.Context) error {
	book := s.addr
	book.mu.Lock()
	done := book.migrated
	book.mu.Unlock()
	if done {
		return nil
	}
	l, err := tre.GetAs[ledger](ctx, s.store, tre.Allocations, ledgerID)
	if err != nil && !tre.IsCode(err, tre.CodeNotFound) {
		return fmt.Errorf("lifecycle: address ledger: %w", err)
	}
	if err == nil {
		for _, a := range l.Allocations {
			p, perr := netip.ParsePrefix(a.CIDR)
			if perr != nil {
				continue
			}
			if err := s.fold(ctx, a, p); err != nil {
				return err
			}
		}
		if err := s.store.Delete(ctx, tre.Allocations, ledgerID, l.ETag); err != nil &&
			!tre.IsCode(err, tre.CodeNotFound) && !tre.IsCode(err, tre.CodePreconditionFailed) {
			return fmt.Errorf("lifecycle: address ledger: %w", err)
		}
		s.log.InfoContext(ctx, "address-space ledger folded into blocks", "allocations", len(l.Allocations))
	}
	if !s.inTx {
		book.mu.Lock()
		book.migrated = true
		book.mu.Unlock()
	}
	return nil
}

// fold adds one ledger allocation to its blocks, unless it is there.
func (s *Service) fold(ctx context.Context, a ledgerEntry, p netip.Prefix) error {
	blocks := s.addr.covering(p)
	for _, i := range blocks {
		blk := s.addr.block(i)
		part, space := p, ""
		if len(blocks) > 1 {
			part, space = blk, p.String()
		}
		err := s.updateBlock(ctx, blk, func(b *addressBlock) bool {
			if slices.ContainsFunc(b.Entries, func(e addressEntry) bool { return e.ResourceID == a.ResourceID && e.CIDR == part.String() }) {
				return false
			}
			b.Entries = append(b.Entries, addressEntry{CIDR: part.String(), Space: space, ResourceID: a.ResourceID, When: a.When, Pending: true})
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// checkAddressSpaces refuses an address_spaces property that is not a
// list of IPv4 CIDRs: the firewall's rules for the workspace's children
// take their source addresses from it, and would silently leave out a
// value that is not one. Returns CodeInvalid naming the item.
func checkAddressSpaces(props map[string]any) error {
	v, ok := props["address_spaces"]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		return tre.FieldErrorf(tre.CodeInvalid, "properties.address_spaces", "address_spaces must be a list of IPv4 CIDRs such as 10.1.0.0/24")
	}
	for i, item := range list {
		s, _ := item.(string)
		if _, err := cidr.Parse(s); err != nil {
			return tre.FieldErrorf(tre.CodeInvalid, fmt.Sprintf("properties.address_spaces[%d]", i), "%s", tre.ErrorMessage(err))
		}
	}
	return nil
}
