// Command installdeps installs the npm packages of the protocol servers
// that the integration suites start (nodetest.Packages), once per version
// of their package-lock.json, into the user's cache directory, where the
// tests find them. `make test-deps` runs it from the module root.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tre-go/tre/internal/nodetest"
)

func main() {
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "installdeps: %v\n", err)
		os.Exit(1)
	}
	if _, _, err := nodetest.Find(); err != nil {
		fmt.Fprintf(os.Stderr, "installdeps: the integration suites %v (Node.js 20+ from your distribution or nodejs.org)\n", err)
		os.Exit(1)
	}
	for _, pkg := range nodetest.Packages {
		dir, err := nodetest.InstallPackage(filepath.Join(root, filepath.FromSlash(pkg)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "installdeps: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %s\n", pkg, dir)
	}
}
