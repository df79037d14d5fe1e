package kernel_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every golden nft file must be a script the real nft accepts.
func TestGoldenFilesLoadInNft(t *testing.T) {
	labtest.Require(t, "nft")
	files, err := filepath.Glob(filepath.Join(golden.Root(t), "testdata", "golden", "nft", "*.nft"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	ns := labtest.NewNS(t, "nftc")
	for _, f := range files {
		out, err := ns.ExecInput(labtest.NftFile(t, f), "nft", "-c", "-f", "-")
		assert.NoError(t, err, "%s: %s", filepath.Base(f), out)
	}
}

// A compiled kill switch must treat every probe exactly as the article's own
// script does, with no option and with each option (the article's commented
// lines uncommented), whether loaded by nft -f or by ksc's netlink batch.
func TestKillswitchVerdictsMatchReference(t *testing.T) {
	labtest.Require(t, "nft")
	root := golden.Root(t)
	policy, err := os.ReadFile(filepath.Join(root, "examples", "ivpn-killswitch.ks"))
	require.NoError(t, err)
	reference, err := os.ReadFile(filepath.Join(root, "testdata", "reference", "ivpn-killswitch.nft"))
	require.NoError(t, err)
	for _, v := range referenceVariants {
		for _, loader := range loaders {
			t.Run(v.option+"/"+loader.name, func(t *testing.T) {
				t.Parallel()
				testVariant(t, v, loader.load, policy, reference)
			})
		}
	}
}

// loaders are the ways ksc's output reaches the kernel.
var loaders = []struct {
	name string
	load func(t *testing.T, ns *labtest.NS, p *ir.Policy)
}{
	{"nft-f", func(t *testing.T, ns *labtest.NS, p *ir.Policy) {
		out, err := ns.ExecInput(string(golden.NFT(t, p)), "nft", "-f", "-")
		require.NoError(t, err, out)
	}},
	{"netlink", func(t *testing.T, ns *labtest.NS, p *ir.Policy) {
		require.NoError(t, kernel.Apply(golden.Batch(t, p), nsenter.Path(ns.Name)))
	}},
}

func testVariant(t *testing.T, v referenceVariant, load func(*testing.T, *labtest.NS, *ir.Policy), policy, reference []byte) {
	p, ds := lang.Load("ivpn-killswitch.ks", policy, labtest.Config(v.option))
	require.False(t, ds.HasErrors(), "%v", ds)

	ksc := labtest.NewKillswitch(t)
	ref := labtest.NewKillswitch(t)
	load(t, ksc.Client, p)
	refScript := v.edit(t, labReference(t, string(reference)))
	out, err := ref.Client.ExecInput(refScript, "nft", "-f", "-")
	require.NoError(t, err, "%s\n%s", out, refScript)

	got, err := labtest.RunAll(ksc.Probes())
	require.NoError(t, err)
	want, err := labtest.RunAll(ref.Probes())
	require.NoError(t, err)
	assert.Equal(t, want, got, "ksc's verdicts differ from the reference script's")

	assert.Equal(t, labtest.ExpectedWith(v.option), got, "verdicts differ from what the article describes")
}

// referenceVariants pairs each option of examples/ivpn-killswitch.ks with the
// article's lines it stands for, and the probes whose verdict it changes.
type referenceVariant struct {
	option string
	edit   func(testing.TB, string) string
}

var referenceVariants = []referenceVariant{
	{option: "none", edit: func(_ testing.TB, s string) string { return s }},
	{option: "lan", edit: uncomment("ip daddr $LAN_CLIENTS")},
	{option: "ssh", edit: uncomment("tcp dport 22")},
	{option: "port-forward", edit: uncomment("iifname $VPN_DEV meta l4proto {tcp, udp} th dport $FORWARDED_PORT counter accept")},
	{option: "port-forward-log", edit: uncomment(`log prefix "NFT PF: "`)},
	{option: "port-forward-clients", edit: uncomment("ip saddr $PF_CLIENTS")},
	{option: "quiet-drops", edit: func(t testing.TB, s string) string {
		s = strings.Replace(s, "\nadd rule inet killswitch OUTPUT counter log", "\n#add rule inet killswitch OUTPUT counter log", 1)
		return uncomment("OUTPUT counter drop")(t, s)
	}},
}

// uncomment enables the article's commented-out rule holding text.
func uncomment(text string) func(testing.TB, string) string {
	return func(t testing.TB, s string) string {
		t.Helper()
		lines := strings.Split(s, "\n")
		found := 0
		for i, l := range lines {
			if strings.HasPrefix(l, "#add rule") && strings.Contains(l, text) {
				lines[i] = strings.TrimPrefix(l, "#")
				found++
			}
		}
		require.Equal(t, 1, found, "commented rules holding %q in the reference script", text)
		return strings.Join(lines, "\n")
	}
}

// labReference points the article's defines at the lab's documentation
// addresses, and gives its commented-out port-forwarding defines values.
func labReference(t testing.TB, s string) string {
	t.Helper()
	for _, d := range labtest.Defines() {
		name, value, _ := strings.Cut(d, "=")
		re := regexp.MustCompile(`(?m)^#?define ` + name + ` .*$`)
		require.True(t, re.MatchString(s), "reference script has no define %s", name)
		s = re.ReplaceAllString(s, "define "+name+" = "+value)
	}
	return s
}
