package packaging

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every script of scripts/ is shellcheck-clean and answers --help.
func TestScriptsAreShellcheckCleanAndHaveHelp(t *testing.T) {
	scripts, err := filepath.Glob("../../scripts/*.sh")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(scripts), 4, "package, deploy, register-bundle, smoke")
	for _, s := range scripts {
		t.Run(filepath.Base(s), func(t *testing.T) {
			out, err := exec.Command(s, "--help").CombinedOutput()
			require.NoError(t, err, "%s --help: %s", s, out)
			require.Contains(t, string(out), "Usage:", "--help prints a usage")
			if !haveShellcheck(t) {
				return
			}
			out, err = exec.Command("shellcheck", "-x", s).CombinedOutput()
			require.NoError(t, err, "shellcheck %s:\n%s", s, out)
		})
	}
}
