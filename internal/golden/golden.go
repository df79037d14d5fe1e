// Package golden lists the policies every backend is tested against and
// compares backend output with the golden files under testdata/golden.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/ksc-project/ksc/sim"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Case is one policy with one command line: a golden output per target.
type Case struct {
	// Name is the golden file's base name, e.g. "ivpn-killswitch+lan".
	Name string
	// Path is the policy file, relative to the repository root.
	Path   string
	Config lang.Config
}

// variants are the option combinations worth a golden file of their own.
var variants = []Case{
	{Name: "wireguard-killswitch+dhcp+lan+fwmark", Path: "examples/wireguard-killswitch.ks",
		Config: lang.Config{Enable: []string{"dhcp", "lan", "fwmark"}}},
	{Name: "ivpn-killswitch+lan+ssh+quiet-drops", Path: "examples/ivpn-killswitch.ks",
		Config: lang.Config{Enable: []string{"lan", "ssh", "quiet-drops"}}},
	{Name: "ivpn-killswitch+port-forward-log", Path: "examples/ivpn-killswitch.ks",
		Config: lang.Config{Enable: []string{"port-forward-log"}, Defines: []lang.Override{{Name: "FORWARDED_PORT", Value: "54321"}}}},
	{Name: "ivpn-killswitch+port-forward-clients", Path: "examples/ivpn-killswitch.ks",
		Config: lang.Config{Enable: []string{"port-forward-clients"}, Defines: []lang.Override{
			{Name: "FORWARDED_PORT", Value: "54321"}, {Name: "PF_CLIENTS", Value: "{ 198.51.100.7, 203.0.113.0/28 }"}}}},
}

// Root returns the repository root (the directory holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test's directory")
		dir = parent
	}
}

// Cases returns every example and every policy under testdata/policies with
// no options, then the option variants.
func Cases(t testing.TB) []Case {
	t.Helper()
	root := Root(t)
	var cases []Case
	for _, dir := range []string{"examples", "testdata/policies"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.ks"))
		require.NoError(t, err)
		sort.Strings(files)
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			cases = append(cases, Case{Name: strings.TrimSuffix(filepath.Base(f), ".ks"), Path: rel})
		}
	}
	require.NotEmpty(t, cases)
	return append(cases, variants...)
}

// Load builds the case's policy; the test fails on any error.
func (c Case) Load(t testing.TB) *ir.Policy {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(Root(t), c.Path))
	require.NoError(t, err)
	cfg := c.Config
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(Root(t), filepath.Dir(c.Path)) // file("...") sets sit beside the policy
	}
	p, ds := lang.Load(c.Path, src, cfg)
	require.False(t, ds.HasErrors(), "%s: %v", c.Path, ds)
	return p
}

// Path returns where the golden file of case name for target lives.
func Path(t testing.TB, target, name, ext string) string {
	return filepath.Join(Root(t), "testdata", "golden", target, name+ext)
}

// Check compares got with the golden file at path, or rewrites the file
// when the test runs with -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./... -update")
	require.Equal(t, string(want), string(got), "output differs from %s (run go test ./... -update to accept)", path)
}

// NFT renders a policy that the test expects the nft target to accept.
func NFT(t testing.TB, p *ir.Policy) []byte {
	t.Helper()
	out, err := nft.Render(p, "")
	require.NoError(t, err)
	return out
}

// Batch lowers a policy that the test expects the nft target to accept.
func Batch(t testing.TB, p *ir.Policy) *nft.Batch {
	t.Helper()
	b, err := nft.Lower(p)
	require.NoError(t, err)
	require.NoError(t, b.Resolve(Machine{}))
	return b
}

// Machine is a made-up namespace and machine that Batch resolves names
// in: every interface and cgroup exists.
type Machine struct{}

// InterfaceIndex is the index of each interface an iif or oif names: lo
// is 1, the rest by name.
func (Machine) InterfaceIndex(name string) (uint32, bool) {
	if name == "lo" {
		return 1, true
	}
	var sum uint32 = 1
	for _, c := range []byte(name) {
		sum = sum*31 + uint32(c)
	}
	return 2 + sum%1000, true
}

// CgroupID is a cgroup's id, by its path.
func (Machine) CgroupID(path string) (uint64, bool) {
	var sum uint64 = 7
	for _, c := range []byte(path) {
		sum = sum*31 + uint64(c)
	}
	return 1000 + sum%100000, true
}

// Updating reports whether the tests run with -update: expected output is
// rewritten rather than compared.
func Updating() bool { return *update }

// Where is the line and column ("24:4") of the first line of the policy at
// path (relative to the repository root) that starts with text after its
// indentation, as ksc reports positions: tests name a rule by its text,
// not by a line number that any edit of the example moves.
func Where(t testing.TB, path, text string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Root(t), path))
	require.NoError(t, err)
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(trimmed, text) {
			return fmt.Sprintf("%d:%d", i+1, len(line)-len(trimmed)+1)
		}
	}
	t.Fatalf("%s has no line starting with %q", path, text)
	return ""
}

// BlockConfig is a test block's settings (its "with" line) as the front
// end takes them. A define of a file is read from dir, as ksc test reads
// it beside the test file.
func BlockConfig(t testing.TB, b sim.TestBlock, dir string) lang.Config {
	t.Helper()
	cfg := lang.Config{Enable: b.Enable, DefineFilesIn: dir}
	for _, d := range b.Defines {
		o, err := lang.ParseOverride(d)
		require.NoError(t, err)
		cfg.Defines = append(cfg.Defines, o)
	}
	return cfg
}

// ExampleConfig is the settings of the first test block of a policy's
// .kst (the file beside it), as BlockConfig.
func ExampleConfig(t testing.TB, policy string) lang.Config {
	t.Helper()
	kst := strings.TrimSuffix(policy, ".ks") + ".kst"
	data, err := os.ReadFile(kst)
	require.NoError(t, err)
	blocks, err := sim.ParseTests(data)
	require.NoError(t, err)
	return BlockConfig(t, blocks[0], filepath.Dir(kst))
}
