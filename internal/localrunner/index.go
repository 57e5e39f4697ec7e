package localrunner

import (
	"fmt"

	"github.com/tre-go/tre/internal/bundle"
)

// find returns the porter.yaml of a bundle name and version under root,
// with an error that lists what is there when it is not (wrapping
// bundle.ErrNotFound). The directory is scanned on every call, so that
// edits to bundles take effect without a restart.
func find(root, name, version string) (string, error) {
	ix, err := bundle.Scan(root)
	if err != nil {
		return "", fmt.Errorf("localrunner: %w", err)
	}
	file, err := ix.Find(name, version)
	if err != nil {
		return "", fmt.Errorf("localrunner: %w", err)
	}
	return file, nil
}
