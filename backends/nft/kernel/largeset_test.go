package kernel_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/internal/golden"

	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 100,000-entry blocklist goes to the kernel as one named interval set,
// in chunks within one transaction, and the kernel holds every range.
func TestApplyLargeNamedSet(t *testing.T) {
	labtest.Require(t, "nft")
	dir := t.TempDir()
	var list strings.Builder
	for i := 0; i < 100_000; i++ {
		v := uint32(0xc6120000) + uint32(i)*4 // 198.18.0.0/15 upwards, never adjacent
		fmt.Fprintln(&list, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.txt"), []byte(list.String()), 0o644))
	src := "flush ruleset\ndefine BIG = file(\"big.txt\")\ntable inet t {\nchain c hook input {\nip saddr $BIG drop\n}\n}\n"
	p, ds := lang.Load(filepath.Join(dir, "p.ks"), []byte(src), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	b := golden.Batch(t, p)
	assert.Equal(t, 200_001, b.Tables[0].Sets[0].Len())

	ns := labtest.NewNS(t, "bigset")
	require.NoError(t, kernel.Apply(b, nsenter.Path(ns.Name)))
	listing := ns.Exec(t, "nft", "list", "set", "inet", "t", "BIG")
	assert.Equal(t, 100_000, strings.Count(listing, ",")+1, "elements in the kernel's set")
	assert.Contains(t, listing, "198.18.0.0, 198.18.0.4,")

	// The same set through nft -f of the nft target lists identically.
	viaNft := labtest.NewNS(t, "bigsetnft")
	out, err := viaNft.ExecInput(string(golden.NFT(t, p)), "nft", "-f", "-")
	require.NoError(t, err, out)
	assert.Equal(t, listing, viaNft.Exec(t, "nft", "list", "set", "inet", "t", "BIG"))
}

// A 100,000-address set written inline goes to the kernel as an anonymous
// set, in chunks: in one message the kernel refused it past some 10,000
// elements. nft -f of the nft target lists identically.
func TestApplyLargeAnonymousSet(t *testing.T) {
	labtest.Require(t, "nft")
	var src strings.Builder
	src.WriteString("flush ruleset\ndefine BIG = {")
	for i := 0; i < 100_000; i++ {
		v := uint32(0xc6120000) + uint32(i)*4
		fmt.Fprintf(&src, " %s,", netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
	}
	src.WriteString(" 198.51.100.1 }\ntable inet t {\nchain c hook input {\nip saddr $BIG drop\n}\n}\n")
	p, ds := lang.Load("p.ks", []byte(src.String()), lang.Config{})
	require.False(t, ds.HasErrors(), "%v", ds)
	b := golden.Batch(t, p)

	ns := labtest.NewNS(t, "anonset")
	require.NoError(t, kernel.Apply(b, nsenter.Path(ns.Name)))
	listing := ns.Exec(t, "nft", "list", "ruleset")
	assert.Equal(t, 100_001, strings.Count(listing, ",")+1, "elements in the kernel's set")

	viaNft := labtest.NewNS(t, "anonsetnft")
	out, err := viaNft.ExecInput(string(golden.NFT(t, p)), "nft", "-f", "-")
	require.NoError(t, err, out)
	// Compared as a bool: a failing diff of a megabyte does not print.
	other := viaNft.Exec(t, "nft", "list", "ruleset")
	i := 0
	for i < min(len(listing), len(other)) && listing[i] == other[i] {
		i++
	}
	assert.True(t, listing == other, "the ruleset nft -f loads lists as ksc's batch does; they part at byte %d: %.80q / %.80q", i, listing[i:], other[i:])
}
