// Package config reads a program's settings from environment variables.
// Each program declares its settings in one table (name, default,
// description); the reader collects every problem and reports them all at
// once, and the table is what the README and the Terraform cross-check are
// built from.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Setting is one environment variable a program reads.
type Setting struct {
	Name        string
	Default     string
	Description string
	// Secret settings are never echoed in problems or logs.
	Secret bool
	// Platform settings are set by the platform (the Functions host, App
	// Service), not by whoever deploys: documented, never configured.
	Platform bool
}

// Env reads settings from a lookup function (os.LookupEnv in programs).
type Env struct {
	table    map[string]Setting
	lookup   func(string) (string, bool)
	problems []string
}

// New returns a reader for the settings of table.
func New(table []Setting, lookup func(string) (string, bool)) *Env {
	m := make(map[string]Setting, len(table))
	for _, s := range table {
		m[s.Name] = s
	}
	return &Env{table: m, lookup: lookup}
}

func (e *Env) setting(name string) Setting {
	s, ok := e.table[name]
	if !ok {
		// A program reading a setting it does not declare is a bug; make it
		// loud in the start-up error rather than a panic.
		e.problems = append(e.problems, fmt.Sprintf("%s: not a declared setting (program bug)", name))
	}
	return s
}

// Set reports whether the variable is present and not empty.
func (e *Env) Set(name string) bool {
	e.setting(name)
	v, ok := e.lookup(name)
	return ok && strings.TrimSpace(v) != ""
}

// String returns the value, or the default when unset or empty.
func (e *Env) String(name string) string {
	s := e.setting(name)
	if v, ok := e.lookup(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return s.Default
}

// Required returns the value and records a problem when it is missing.
func (e *Env) Required(name, why string) string {
	v := e.String(name)
	if v == "" {
		e.Problemf("%s: required %s", name, why)
	}
	return v
}

// Int returns an integer setting within [min, max].
func (e *Env) Int(name string, min, max int) int {
	raw := e.String(name)
	n, err := strconv.Atoi(raw)
	if err != nil || n < min || n > max {
		e.Problemf("%s: %q is not a whole number from %d to %d", name, e.show(name, raw), min, max)
		n, _ = strconv.Atoi(e.table[name].Default)
	}
	return n
}

// Duration returns a duration setting (Go syntax: 30s, 5m, 1h30m) within
// [min, max].
func (e *Env) Duration(name string, min, max time.Duration) time.Duration {
	raw := e.String(name)
	d, err := time.ParseDuration(raw)
	if err != nil || d < min || d > max {
		e.Problemf("%s: %q is not a duration from %s to %s (for example 30s, 5m)", name, e.show(name, raw), min, max)
		d, _ = time.ParseDuration(e.table[name].Default)
	}
	return d
}

// Bool returns a boolean setting (true/false/1/0).
func (e *Env) Bool(name string) bool {
	raw := e.String(name)
	b, err := strconv.ParseBool(raw)
	if err != nil {
		e.Problemf("%s: %q is not true or false", name, e.show(name, raw))
	}
	return b
}

// OneOf returns a setting that must be one of allowed (compared without
// case; the allowed spelling is returned).
func (e *Env) OneOf(name string, allowed ...string) string {
	raw := e.String(name)
	for _, a := range allowed {
		if strings.EqualFold(raw, a) {
			return a
		}
	}
	e.Problemf("%s: %q is not one of %s", name, e.show(name, raw), strings.Join(allowed, ", "))
	return e.table[name].Default
}

func (e *Env) show(name, v string) string {
	if e.table[name].Secret {
		return "(hidden)"
	}
	return v
}

// Problemf records a problem with the configuration.
func (e *Env) Problemf(format string, args ...any) {
	e.problems = append(e.problems, fmt.Sprintf(format, args...))
}

// Err returns every recorded problem in one error, or nil.
func (e *Env) Err() error {
	if len(e.problems) == 0 {
		return nil
	}
	p := append([]string(nil), e.problems...)
	sort.Strings(p)
	return errors.New("configuration has " + strconv.Itoa(len(p)) + " problem(s):\n  - " + strings.Join(p, "\n  - "))
}

// Markdown renders a settings table for the README.
func Markdown(table []Setting) string {
	var b strings.Builder
	b.WriteString("| Setting | Default | Description |\n|---|---|---|\n")
	for _, s := range table {
		def := s.Default
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", s.Name, def, s.Description)
	}
	return b.String()
}
