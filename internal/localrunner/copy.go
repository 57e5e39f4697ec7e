package localrunner

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// copyBundle copies the bundle directory src into the empty directory dst,
// as Porter builds the bundle's /cnab/app from it: files keep their
// permission bits, symbolic links stay links. Subdirectories that hold
// their own porter.yaml are other bundles (a service's user resources) and
// are left out.
func copyBundle(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if rel == "." {
				return nil
			}
			if _, err := os.Lstat(filepath.Join(path, "porter.yaml")); err == nil {
				return filepath.SkipDir
			}
			return os.Mkdir(target, 0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(path, target, info.Mode().Perm())
		}
		return fmt.Errorf("%s: not a regular file, directory or link", path)
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
