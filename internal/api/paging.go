package api

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/tre-go/tre/internal/deadletter"
	"github.com/tre-go/tre/internal/tre"
)

// maxPage is the largest ?limit= a list route accepts.
const maxPage = 1000

// pageParams reads ?limit= (1 to maxPage, default def) and ?continuation=.
// Returns CodeInvalid naming the parameter.
func pageParams(r *http.Request, def int) (int, string, error) {
	q := r.URL.Query()
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			return 0, "", tre.FieldErrorf(tre.CodeInvalid, "limit", "limit must be a number from 1 to %d, not %q", maxPage, v)
		}
		limit = n
	}
	return limit, q.Get("continuation"), nil
}

// deadLetterKey orders dead letters: oldest first, then by queue and id,
// so that a page boundary is the same however the list was read.
type deadLetterKey struct {
	At    float64 `json:"t"`
	Queue string  `json:"q"`
	ID    string  `json:"i"`
}

func keyOf(d deadletter.DeadLetter) deadLetterKey {
	return deadLetterKey{At: d.DeadLetteredAt, Queue: d.Queue, ID: d.ID}
}

func compareKeys(a, b deadLetterKey) int {
	return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.ID, b.ID))
}

// pageDeadLetters returns the limit dead letters after the continuation
// (all from the start when empty), and the continuation of the next page
// (empty at the end). Returns CodeInvalid naming continuation when it is
// not one this route gave.
func pageDeadLetters(list []deadletter.DeadLetter, limit int, continuation string) ([]deadletter.DeadLetter, string, error) {
	list = slices.Clone(list)
	slices.SortFunc(list, func(a, b deadletter.DeadLetter) int { return compareKeys(keyOf(a), keyOf(b)) })
	start := 0
	if continuation != "" {
		var after deadLetterKey
		raw, err := base64.RawURLEncoding.DecodeString(continuation)
		if err != nil || json.Unmarshal(raw, &after) != nil {
			return nil, "", tre.FieldErrorf(tre.CodeInvalid, "continuation", "continuation must be the value a previous page answered")
		}
		start, _ = slices.BinarySearchFunc(list, after, func(d deadletter.DeadLetter, k deadLetterKey) int {
			if c := compareKeys(keyOf(d), k); c != 0 {
				return c
			}
			return -1 // the key itself was on the previous page
		})
	}
	end := min(start+limit, len(list))
	page := list[start:end]
	if end == len(list) {
		return page, "", nil
	}
	raw, _ := json.Marshal(keyOf(list[end-1]))
	return page, base64.RawURLEncoding.EncodeToString(raw), nil
}
