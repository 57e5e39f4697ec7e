package tre

import (
	"strings"
)

// VersionRange is a set of versions: alternatives separated by "||", each
// a list of comparisons that must all hold, separated by spaces:
// ">=1.2.0 <2.0.0 || 3.1.4". A comparison is an operator (=, >, >=, <,
// <=; none means =) and a full semantic version.
type VersionRange struct {
	text string
	alts [][]comparison
}

type comparison struct {
	op string
	v  Version
}

// ParseVersionRange parses a range. Returns CodeInvalid naming the part at
// fault.
func ParseVersionRange(s string) (VersionRange, error) {
	r := VersionRange{text: strings.TrimSpace(s)}
	if r.text == "" {
		return r, Errorf(CodeInvalid, "an empty version range")
	}
	for _, alt := range strings.Split(r.text, "||") {
		var cmps []comparison
		for _, f := range strings.Fields(alt) {
			op := ""
			for _, o := range []string{">=", "<=", ">", "<", "="} {
				if strings.HasPrefix(f, o) {
					op = o
					break
				}
			}
			v, err := ParseVersion(strings.TrimPrefix(f, op))
			if err != nil {
				return r, Errorf(CodeInvalid, "version range %q: %q is not an operator (=, >, >=, <, <=) followed by a semantic version", r.text, f)
			}
			if op == "" {
				op = "="
			}
			cmps = append(cmps, comparison{op: op, v: v})
		}
		if len(cmps) == 0 {
			return r, Errorf(CodeInvalid, "version range %q has an empty alternative", r.text)
		}
		r.alts = append(r.alts, cmps)
	}
	return r, nil
}

// Contains reports whether version v (a string) is in the range; a string
// that is not a semantic version is in no range.
func (r VersionRange) Contains(version string) bool {
	v, err := ParseVersion(version)
	if err != nil {
		return false
	}
	for _, alt := range r.alts {
		if allHold(alt, v) {
			return true
		}
	}
	return false
}

func allHold(cmps []comparison, v Version) bool {
	for _, c := range cmps {
		d := v.Compare(c.v)
		ok := false
		switch c.op {
		case "=":
			ok = d == 0
		case ">":
			ok = d > 0
		case ">=":
			ok = d >= 0
		case "<":
			ok = d < 0
		case "<=":
			ok = d <= 0
		}
		if !ok {
			return false
		}
	}
	return true
}
