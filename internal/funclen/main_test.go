package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeFunc writes a Go file whose function F has n lines (func to brace).
func writeFunc(t *testing.T, path, pkg, decl string, n int) {
	t.Helper()
	body := strings.Repeat("\t_ = 0\n", n-2)
	src := "package " + pkg + "\n\n// doc lines are not counted\n// at all\nfunc " + decl + " {\n" + body + "}\n"
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
}

func TestFuncLen(t *testing.T) {
	root := t.TempDir()
	writeFunc(t, filepath.Join(root, "a", "a.go"), "a", "Long()", 81)
	writeFunc(t, filepath.Join(root, "a", "b.go"), "a", "(r *Runner) Limit()", 79)
	writeFunc(t, filepath.Join(root, "a", "c.go"), "a", "(s Set[K]) Short()", 3)
	writeFunc(t, filepath.Join(root, "a", "a_test.go"), "a", "TestLong(t *testing.T)", 200)
	writeFunc(t, filepath.Join(root, "a", "testdata", "x.go"), "x", "Data()", 200)
	writeFunc(t, filepath.Join(root, "internal", "storetest", "suite.go"), "storetest", "Suite()", 300)
	writeFunc(t, filepath.Join(root, "p", "portertest", "fake.go"), "portertest", "Fake()", 300)
	writeFunc(t, filepath.Join(root, ".tre", "x.go"), "x", "Hidden()", 300)

	t.Run("over the limit", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"-over", "79", "-top", "2", root}, &out, &errOut)
		require.Equal(t, 1, code, errOut.String())
		got := out.String()
		a := filepath.Join(root, "a")
		require.Equal(t, "longest functions (limit 79 lines):\n"+
			"  81 a Long "+filepath.Join(a, "a.go")+":5:1\n"+
			"  79 a (*Runner).Limit "+filepath.Join(a, "b.go")+":5:1\n"+
			"functions over 79 lines:\n"+
			"  81 a Long "+filepath.Join(a, "a.go")+":5:1\n", got,
			"tests, testdata, hidden and test-support trees are skipped; the doc comment is not counted")
	})

	t.Run("within the limit", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"-over", "81", root}, &out, &errOut)
		require.Equal(t, 0, code, errOut.String())
		require.Contains(t, out.String(), "  3 a (Set).Short ")
		require.NotContains(t, out.String(), "functions over")
	})

	t.Run("exclusions are configurable", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code := run([]string{"-exclude", "", "-top", "1", root}, &out, &errOut)
		require.Equal(t, 1, code)
		require.Contains(t, out.String(), "  300 storetest Suite ")
		require.Contains(t, out.String(), "  300 portertest Fake ")
	})

	t.Run("a parse error fails", func(t *testing.T) {
		bad := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(bad, "bad.go"), []byte("package x\nfunc {"), 0o644))
		var out, errOut bytes.Buffer
		require.Equal(t, 2, run([]string{bad}, &out, &errOut))
		require.Contains(t, errOut.String(), "bad.go")
	})
}
