package install

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/internal/safefile"
)

// Resolve is where path, as seen from the installed system, lies under
// root on this one: every symbolic link on the way is followed inside
// root, an absolute one from root, as the installed system will follow
// it. (filepath.Join and the host's own resolution followed an image's
// absolute link /etc/systemd/system -> /usr/lib/... to the build host's
// /usr/lib.) Components that do not exist yet are taken as they are.
func Resolve(root, p string) (string, error) {
	root = filepath.Clean(root)
	var done []string // resolved components, inside root
	todo := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		host := filepath.Join(append([]string{root}, append(done, c)...)...)
		fi, err := os.Lstat(host)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", err
			}
			done = append(done, c)
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links under %s", p, root)
		}
		dest, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if path.IsAbs(filepath.ToSlash(dest)) {
			done = nil
		}
		todo = append(strings.Split(filepath.ToSlash(dest), "/"), todo...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

// place is where f lies under root: a link's own place (the link is what
// ksc writes), a file's through any link at its name.
func place(root, p string, link bool) (string, error) {
	if !link {
		return Resolve(root, p)
	}
	dir, err := Resolve(root, path.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(p)), nil
}

// An Entry is a file the manifest says ksc wrote, and what it wrote: a
// regular file's SHA-256, or a link's target.
type Entry struct {
	Path string
	Sum  string // "sha256:HEX", "link:TARGET", or unknownSum
}

// unknownSum is the sum of a file in the manifest of a ksc that kept
// none: only a path ksc installs.
const unknownSum = "unknown"

func (e Entry) line() string { return e.Sum + " " + e.Path }

// link says whether ksc wrote a link there: the enabling links, in a
// manifest that kept no sums.
func (e Entry) link() bool {
	return strings.HasPrefix(e.Sum, "link:") || (e.Sum == unknownSum && (e.Path == Enabled || e.Path == WatchEnabled))
}

func sumOf(f File) string {
	if f.Link != "" {
		return "link:" + f.Link
	}
	h := sha256.Sum256(f.Data)
	return "sha256:" + hex.EncodeToString(h[:])
}

// current is what lies at the host path now, in an Entry's terms; "" when
// nothing does.
func current(host string) (string, error) {
	fi, err := os.Lstat(host)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		dest, err := os.Readlink(host)
		return "link:" + dest, err
	}
	if !fi.Mode().IsRegular() {
		return "a " + fi.Mode().Type().String(), nil
	}
	data, err := os.ReadFile(host)
	if err != nil {
		return "", err
	}
	return sumOf(File{Data: data}), nil
}

// mayWrite says whether p is a file an installation can hold: one of the
// fixed files, or a set file under Dir. A manifest naming anything else
// was not written by ksc, and uninstall must not act on it.
func mayWrite(p string) bool {
	fixed := []string{Policy, Manifest, Unit, Enabled, WatchUnit, WatchEnabled, RulesV4, RulesV6}
	return slices.Contains(fixed, p) || (strings.HasPrefix(p, Dir+"/") && path.Clean(p) == p)
}

// ReadManifest lists the files an earlier installation under root wrote.
func ReadManifest(root string) ([]Entry, error) {
	where, err := Resolve(root, Manifest)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(where)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, line := range strings.Split(string(bytes.TrimSpace(data)), "\n") {
		e := Entry{Path: line, Sum: unknownSum}
		if sum, p, ok := strings.Cut(line, " "); ok {
			e = Entry{Path: p, Sum: sum}
		}
		if !mayWrite(e.Path) {
			return nil, fmt.Errorf("%s: %q is not a file ksc installs; fix or remove the manifest", where, line)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// Write lays plan out under root, with the manifest; files of an earlier
// installation that plan no longer has are removed. It refuses, writing
// nothing, when a file it would write exists and ksc did not write it, or
// was changed since ksc wrote it (an administrator's edit).
func Write(root string, plan []File) error {
	previous, err := ReadManifest(root)
	if err != nil {
		return err
	}
	ours := map[string]string{}
	for _, e := range previous {
		ours[e.Path] = e.Sum
	}
	type placed struct {
		File
		host string
	}
	var todo []placed
	for _, f := range plan {
		host, err := place(root, f.Path, f.Link != "")
		if err != nil {
			return err
		}
		now, err := current(host)
		if err != nil {
			return err
		}
		if err := mayReplace(host, now, ours[f.Path], sumOf(f)); err != nil {
			return err
		}
		todo = append(todo, placed{f, host})
	}
	var manifest []string
	for _, f := range todo {
		if err := writeOne(f.host, f.File); err != nil {
			return err
		}
		manifest = append(manifest, Entry{Path: f.Path, Sum: sumOf(f.File)}.line())
	}
	for _, e := range previous {
		if e.Path == Manifest || slices.ContainsFunc(plan, func(f File) bool { return f.Path == e.Path }) {
			continue
		}
		if _, err := removeIfOurs(root, e); err != nil {
			return err
		}
	}
	where, err := Resolve(root, Manifest)
	if err != nil {
		return err
	}
	return safefile.Write(where, []byte(strings.Join(manifest, "\n")+"\n"), safefile.Options{})
}

// mayReplace refuses to replace what is at host unless it is missing, is
// what ksc wrote there (wrote, from the manifest; "" when ksc wrote
// nothing there), or is already what ksc is about to write.
func mayReplace(host, now, wrote, next string) error {
	switch {
	case now == "" || now == next:
		return nil
	case wrote == "":
		return fmt.Errorf("%s exists and ksc did not write it; move it away first (nothing was written)", host)
	case wrote == unknownSum:
		return nil
	case now != wrote:
		return fmt.Errorf("%s was changed since ksc installed it; keep your changes elsewhere and move it away first (nothing was written)", host)
	}
	return nil
}

func writeOne(host string, f File) error {
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	if f.Link == "" {
		return safefile.Write(host, f.Data, safefile.Options{})
	}
	if dest, err := os.Readlink(host); err == nil && dest == f.Link {
		return nil
	}
	if err := os.Remove(host); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(f.Link, host)
}

// removeIfOurs removes the file e names when it still holds what ksc
// wrote, and reports whether it did. A file ksc never wrote, or that was
// changed since, is left where it is.
func removeIfOurs(root string, e Entry) (bool, error) {
	host, err := place(root, e.Path, e.link())
	if err != nil {
		return false, err
	}
	now, err := current(host)
	if err != nil || now == "" {
		return false, err
	}
	if e.Sum != unknownSum && now != e.Sum {
		return false, nil
	}
	if err := os.Remove(host); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// An UninstallReport says what Uninstall did.
type UninstallReport struct {
	Removed []string
	// Kept are files the manifest names that were changed since ksc
	// wrote them: they are the administrator's now.
	Kept []string
}

// Uninstall removes exactly the files an installation under root wrote
// and that still hold what it wrote, the manifest last, so that an
// interrupted uninstall can run again.
func Uninstall(root string) (UninstallReport, error) {
	var r UninstallReport
	entries, err := ReadManifest(root)
	if err != nil {
		return r, err
	}
	if entries == nil {
		return r, fmt.Errorf("nothing is installed under %s (no %s)", root, Manifest)
	}
	for _, e := range entries {
		if e.Path == Manifest {
			continue
		}
		removed, err := removeIfOurs(root, e)
		if err != nil {
			return r, err
		}
		if removed {
			r.Removed = append(r.Removed, e.Path)
		} else if host, _ := place(root, e.Path, e.link()); exists(host) {
			r.Kept = append(r.Kept, e.Path)
		}
	}
	where, err := Resolve(root, Manifest)
	if err != nil {
		return r, err
	}
	if err := os.Remove(where); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	r.Removed = append(r.Removed, Manifest)
	for _, dir := range []string{Dir, path.Dir(Enabled)} {
		if host, err := Resolve(root, dir); err == nil {
			os.Remove(host) // only when empty
		}
	}
	return r, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
