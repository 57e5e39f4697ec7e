// Package archcheck holds the checks of the package structure that
// docs/ARCHITECTURE.md describes, as tests only: which packages may import
// which. Nothing here is imported by the programs.
package archcheck
