package iptables_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/netlab"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var modes = []iptables.Mode{iptables.ModeNFT, iptables.ModeLegacy}

// Every golden output passes "iptables-restore --test" with both variants
// of the tools, and once loaded, iptables-save gives back exactly its rules.
func TestGoldenFilesLoadAndSaveBack(t *testing.T) {
	netlab.Require(t, "iptables-nft-restore", "iptables-legacy-restore")
	n := 0
	for _, c := range golden.Cases(t) {
		p := c.Load(t)
		if !compiles(t, c, p) {
			continue
		}
		for _, family := range []ir.Family{ir.IPv4, ir.IPv6} {
			o, err := iptables.Render(p, family)
			require.NoError(t, err)
			for _, mode := range modes {
				n++
				ns := netlab.NewNS(t, "ipt")
				require.NoError(t, iptables.Test(o, nsenter.Path(ns.Name), mode), "%s %s %s", c.Name, family, mode)
				save := "iptables-" + string(mode) + "-save"
				restore := "iptables-" + string(mode) + "-restore"
				if family == ir.IPv6 {
					save, restore = "ip6"+save[2:], "ip6"+restore[2:]
				}
				if iptables.Owned(p) {
					// ksc's own chains, loaded beside whatever is there;
					// Status compares them with the policy.
					out, err := ns.ExecInput(string(o.Text), restore, "--noflush")
					require.NoError(t, err, out)
					diff, err := iptables.Status(p, nsenter.Path(ns.Name), mode)
					require.NoError(t, err)
					var mine []string
					for _, l := range diff {
						if strings.HasPrefix(l, iptablesTool(family)+" ") {
							mine = append(mine, l)
						}
					}
					assert.Empty(t, mine, "%s %s %s", c.Name, family, mode)
					continue
				}
				out, err := ns.ExecInput(string(o.Text), restore)
				require.NoError(t, err, out)
				assert.Equal(t, ruleLines(string(o.Text)), ruleLines(ns.Exec(t, save, "-t", "filter")), "%s %s %s", c.Name, family, mode)
			}
		}
	}
	assert.NotZero(t, n)
}

// iptablesTool names a family's tool as Status writes it.
func iptablesTool(family ir.Family) string {
	if family == ir.IPv6 {
		return "ip6tables"
	}
	return "iptables"
}

func ruleLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// The kill switch loaded with iptables-restore (nf_tables and legacy) gives
// every probe, IPv6 included, the verdict the article describes, the same
// as the nft target's kernel test requires.
func TestKillswitchVerdicts(t *testing.T) {
	netlab.Require(t, "iptables-nft-restore", "iptables-legacy-restore")
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", "ivpn-killswitch.ks"))
	require.NoError(t, err)
	for option := range netlab.OptionChanges {
		for _, mode := range modes {
			t.Run(option+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				p, ds := lang.Load("ivpn-killswitch.ks", src, netlab.Config(option))
				require.False(t, ds.HasErrors(), "%v", ds)
				lab := netlab.NewKillswitch(t)
				require.NoError(t, iptables.Apply(p, nsenter.Path(lab.Client.Name), mode))
				got, err := netlab.RunAll(lab.Probes())
				require.NoError(t, err)
				assert.Equal(t, netlab.ExpectedWith(option), got)
			})
		}
	}
}

// When ip6tables-restore refuses its input, the IPv4 rules are put back as
// they were: the two families end as they began.
func TestApplyRestoresIPv4WhenIPv6Fails(t *testing.T) {
	netlab.Require(t, "iptables-nft-restore", "iptables-legacy-restore")
	for _, mode := range modes {
		ns := netlab.NewNS(t, "ipt6")
		path := nsenter.Path(ns.Name)
		save := "iptables-" + string(mode) + "-save"
		before := ruleLines(ns.Exec(t, save, "-t", "filter"))
		p := load(t, "flush ruleset\ntable inet t {\nchain c hook input policy drop {\niifname lo accept\n}\n}\n")
		// Hide ip6tables-restore so that the second family fails.
		restore6 := "ip6tables-" + string(mode) + "-restore"
		t.Setenv("PATH", hidingPath(t, restore6))
		err := iptables.Apply(p, path, mode)
		require.Error(t, err)
		assert.Contains(t, err.Error(), restore6)
		assert.Equal(t, before, ruleLines(ns.Exec(t, save, "-t", "filter")), "mode %s", mode)
	}
}

// hidingPath returns a PATH with every command but hidden.
func hidingPath(t *testing.T, hidden string) string {
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			link := filepath.Join(dir, e.Name())
			if e.Name() == hidden {
				continue
			}
			if _, err := os.Lstat(link); err == nil {
				continue
			}
			os.Symlink(filepath.Join(d, e.Name()), link)
		}
	}
	return dir
}

// Status (through go-iptables) sees the rules apply loaded, and what
// changes; Remove empties the filter tables.
func TestStatusAndRemove(t *testing.T) {
	netlab.Require(t, "iptables-nft-restore", "iptables-legacy-restore")
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", "ivpn-killswitch.ks"))
	require.NoError(t, err)
	plain, ds := lang.Load("ivpn-killswitch.ks", src, lang.Config{})
	require.False(t, ds.HasErrors())
	withLAN, ds := lang.Load("ivpn-killswitch.ks", src, lang.Config{Enable: []string{"lan"}})
	require.False(t, ds.HasErrors())
	for _, mode := range modes {
		ns := netlab.NewNS(t, "iptstat")
		path := nsenter.Path(ns.Name)
		diff, err := iptables.Status(plain, path, mode)
		require.NoError(t, err)
		assert.Contains(t, diff, "iptables - -P INPUT ACCEPT", "nothing loaded yet")
		assert.Contains(t, diff, "iptables + -P INPUT DROP")

		require.NoError(t, iptables.Apply(plain, path, mode))
		diff, err = iptables.Status(plain, path, mode)
		require.NoError(t, err)
		assert.Empty(t, diff, "mode %s: a just-applied policy is loaded", mode)
		diff, err = iptables.Status(withLAN, path, mode)
		require.NoError(t, err)
		assert.Equal(t, []string{"iptables + -A OUTPUT -d 192.168.0.0/24 -o eth0 -j ACCEPT"}, diff)

		// Whatever order iptables lists options in, a just-applied policy
		// is in place: ports in both directions, negations, sets.
		for _, c := range golden.Cases(t) {
			p := c.Load(t)
			if _, refusedCase := refused[c.Name]; refusedCase {
				continue
			}
			require.NoError(t, iptables.Apply(p, path, mode), c.Name)
			diff, err = iptables.Status(p, path, mode)
			require.NoError(t, err)
			assert.Empty(t, diff, "mode %s, case %s: a just-applied policy is in place", mode, c.Name)
		}

		require.NoError(t, iptables.Remove(path, mode))
		saved := ns.Exec(t, "iptables-"+string(mode)+"-save", "-t", "filter")
		assert.NotContains(t, saved, "-A ", "mode %s", mode)
		assert.Contains(t, saved, ":OUTPUT ACCEPT")
	}
}

// The script target fails closed: a refused rule stops it before anything
// changes, and a command that fails after the first change leaves both
// families dropping.
func TestScriptFailsClosed(t *testing.T) {
	netlab.Require(t, "iptables", "ip6tables", "sh")
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", "ivpn-iptables.ks"))
	require.NoError(t, err)
	p, ds := lang.Load("ivpn-iptables.ks", src, lang.Config{})
	require.False(t, ds.HasErrors())
	script, err := iptables.RenderScript(p)
	require.NoError(t, err)
	policies := func(ns *netlab.NS) string {
		return ns.Exec(t, "sh", "-c", "iptables -S | grep '^-P'; ip6tables -S | grep '^-P'")
	}
	open := "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"
	closed := "-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT DROP\n-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT DROP\n"

	ns := netlab.NewNS(t, "script")
	out, err := ns.ExecInput(string(script), "sh", "-s")
	require.NoError(t, err, out)
	assert.Equal(t, closed, policies(ns))

	// A rule the check refuses: nothing changes.
	ns = netlab.NewNS(t, "script")
	bad := strings.Replace(string(script), "-A OUTPUT -o tun0 -j ACCEPT\n", "-A OUTPUT -o tun0 --no-such-option -j ACCEPT\n", 1)
	require.NotEqual(t, string(script), bad)
	_, err = ns.ExecInput(bad, "sh", "-s")
	require.Error(t, err)
	assert.Equal(t, open, policies(ns), "a refused rule must stop the script before the first change")

	// A command failing after the first change: everything stays closed.
	ns = netlab.NewNS(t, "script")
	late := strings.Replace(string(script), "iptables -A OUTPUT -o tun0 -j ACCEPT\n", "iptables -A OUTPUT -o tun0 --no-such-option -j ACCEPT\n", 1)
	require.NotEqual(t, string(script), late)
	_, err = ns.ExecInput(late, "sh", "-s")
	require.Error(t, err)
	assert.Equal(t, closed, policies(ns), "a failure half-way must leave both families dropping")
}
