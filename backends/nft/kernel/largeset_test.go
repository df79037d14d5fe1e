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
	"github.com/ksc-project/ksc/internal/netlab"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 100,000-entry blocklist goes to the kernel as one named interval set,
// in chunks within one transaction, and the kernel holds every range.
func TestApplyLargeNamedSet(t *testing.T) {
	netlab.Require(t, "nft")
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

	ns := netlab.NewNS(t, "bigset")
	require.NoError(t, kernel.Apply(b, nsenter.Path(ns.Name)))
	listing := ns.Exec(t, "nft", "list", "set", "inet", "t", "BIG")
	assert.Equal(t, 100_000, strings.Count(listing, ",")+1, "elements in the kernel's set")
	assert.Contains(t, listing, "198.18.0.0, 198.18.0.4,")

	// The same set through nft -f of the nft target lists identically.
	viaNft := netlab.NewNS(t, "bigsetnft")
	out, err := viaNft.ExecInput(string(golden.NFT(t, p)), "nft", "-f", "-")
	require.NoError(t, err, out)
	assert.Equal(t, listing, viaNft.Exec(t, "nft", "list", "set", "inet", "t", "BIG"))
}
