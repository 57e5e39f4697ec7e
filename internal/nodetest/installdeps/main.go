// Command installdeps installs the npm packages of the protocol servers
// that the integration suites start, and of Azurite, which make run starts
// (nodetest.Packages), once per version of their package-lock.json, into
// the user's cache directory, where the tests find them. `make test-deps`
// runs it from the module root for every package; `make run` for Azurite
// only, with -optional: without Node.js it says so and succeeds.
//
//	installdeps [-optional] [package dir]...
//
// It prints "<package dir>: <install dir>" for each package.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/tre-go/tre/internal/nodetest"
)

func main() {
	optional := flag.Bool("optional", false, "without Node.js 20+ and npm, say so on stderr and exit 0")
	flag.Parse()
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "installdeps: %v\n", err)
		os.Exit(1)
	}
	pkgs := nodetest.Packages
	if flag.NArg() > 0 {
		pkgs = flag.Args()
		for _, p := range pkgs {
			if !slices.Contains(nodetest.Packages, p) {
				fmt.Fprintf(os.Stderr, "installdeps: %s is not one of %v\n", p, nodetest.Packages)
				os.Exit(2)
			}
		}
	}
	if _, _, err := nodetest.Find(); err != nil {
		if *optional {
			fmt.Fprintf(os.Stderr, "installdeps: %v: %v not installed\n", err, pkgs)
			return
		}
		fmt.Fprintf(os.Stderr, "installdeps: the integration suites %v (Node.js 20+ from your distribution or nodejs.org)\n", err)
		os.Exit(1)
	}
	for _, pkg := range pkgs {
		dir, err := nodetest.InstallPackage(filepath.Join(root, filepath.FromSlash(pkg)))
		if err != nil {
			fmt.Fprintf(os.Stderr, "installdeps: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %s\n", pkg, dir)
	}
}
