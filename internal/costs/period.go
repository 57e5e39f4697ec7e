package costs

import (
	"strings"
	"time"

	"github.com/tre-go/tre/internal/tre"
)

// Period is what a report covers: [From, To] (both zero: the month to
// date) at a granularity (tre.GranularityNone or tre.GranularityDaily).
type Period struct {
	From, To    time.Time
	Granularity string
}

// AzureTRE's texts.
const (
	msgToAfterFrom  = "to_date needs to be later than from_date"
	msgFromBeforeTo = "from_date needs to be before to_date"
	msgMaxPeriod    = "The time period for pulling the data cannot exceed 1 year"
)

// Check applies AzureTRE's rules: both dates or neither, from before to,
// at most a year apart, a known granularity. Returns CodeInvalid.
func (p Period) Check() error {
	switch p.Granularity {
	case tre.GranularityNone, tre.GranularityDaily:
	default:
		return tre.FieldErrorf(tre.CodeInvalid, "granularity", "granularity must be None or Daily, not %q", p.Granularity)
	}
	switch {
	case p.From.IsZero() && p.To.IsZero():
		return nil
	case p.To.IsZero() || (!p.From.IsZero() && !p.From.Before(p.To)):
		return tre.FieldErrorf(tre.CodeInvalid, "to_date", msgToAfterFrom)
	case p.From.IsZero():
		return tre.FieldErrorf(tre.CodeInvalid, "from_date", msgFromBeforeTo)
	case !p.To.Before(p.From.AddDate(1, 0, 0)):
		return tre.FieldErrorf(tre.CodeInvalid, "to_date", msgMaxPeriod)
	}
	return nil
}

// dateLayouts are the spellings of a date FastAPI accepts that clients
// send: AzureTRE's CLI sends Python's str() of a datetime.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05Z07:00", "2006-01-02"}

// ParseDate reads a from_date or to_date query parameter (ISO 8601; a date
// without a zone is UTC). An empty value is the zero time. Returns
// CodeInvalid naming the parameter.
func ParseDate(param, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, tre.FieldErrorf(tre.CodeInvalid, param, "%s must be an ISO 8601 date or date and time (2024-01-31, 2024-01-31T12:00:00Z), not %q", param, v)
}
