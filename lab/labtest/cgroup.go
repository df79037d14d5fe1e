package labtest

import (
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ksc-project/ksc/cgroup"
	"github.com/ksc-project/ksc/ir"
)

// holding is each test's turn at making cgroups.
var holding sync.Map // testing.TB -> *cgroup.Held

// holdCgroups makes the cgroups at paths for the rest of the test, in
// its turn (cgroup.Hold: tests that make cgroups take turns, so a test
// must not make them and then run subtests that do).
func holdCgroups(t testing.TB, paths []string) {
	t.Helper()
	if len(paths) == 0 {
		return
	}
	h, ok := holding.Load(t)
	if !ok {
		held, err := cgroup.Hold()
		if err != nil {
			t.Fatal(err)
		}
		holding.Store(t, held)
		t.Cleanup(func() {
			holding.Delete(t)
			if err := held.Release(); err != nil {
				t.Error(err)
			}
		})
		h = held
	}
	if err := h.(*cgroup.Held).Make(paths...); err != nil {
		t.Fatal(err)
	}
}

// Cgroups makes the cgroups the policies match, which must exist when
// they are loaded, and removes the ones it made when the test ends.
func Cgroups(t testing.TB, ps ...*ir.Policy) {
	t.Helper()
	for _, p := range ps {
		holdCgroups(t, p.Cgroups())
	}
}

// CgroupPaths makes the cgroups at paths for the rest of the test (see
// Cgroups).
func CgroupPaths(t testing.TB, paths ...string) {
	t.Helper()
	holdCgroups(t, paths)
}

// cgroupPaths finds the paths of socket cgroupv2 matches in nft's text.
var (
	cgroupMatch = regexp.MustCompile(`socket cgroupv2 level \d+ (?:!= )?("[^"]*"|\{[^}]*\})`)
	quoted      = regexp.MustCompile(`"[^"]*"`)
)

// NftFile reads an nft script as ksc writes it for a machine where
// cgroup2 is all there is, and gives it the cgroup2 root of this one
// (cgroup.NftRoot), making the cgroups it matches for the rest of the
// test (see Cgroups).
func NftFile(t testing.TB, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.Contains(text, "socket cgroupv2") {
		return text
	}
	root, err := cgroup.NftRoot()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	text = cgroupMatch.ReplaceAllStringFunc(text, func(m string) string {
		return quoted.ReplaceAllStringFunc(m, func(q string) string {
			path := strings.Trim(q, `"`)
			paths = append(paths, path)
			if root == "" {
				return q
			}
			return `"` + root + "/" + path + `"`
		})
	})
	holdCgroups(t, paths)
	return text
}
