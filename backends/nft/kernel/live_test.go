package kernel_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/ksc-project/ksc/backends/nft"
	"github.com/ksc-project/ksc/backends/nft/kernel"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadExample(t testing.TB, name string, cfg lang.Config) *ir.Policy {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", name))
	require.NoError(t, err)
	p, ds := lang.Load(name, src, cfg)
	require.False(t, ds.HasErrors(), "%v", ds)
	return p
}

func nftList(t *testing.T, ns *labtest.NS) string {
	t.Helper()
	return ns.Exec(t, "nft", "list", "ruleset")
}

// otherTool is a table some other program owns, with a named set.
const otherTool = `table ip other {
	set blocked {
		type ipv4_addr
		flags interval
		elements = { 192.0.2.0/28, 198.51.100.7 }
	}
	chain c {
		type filter hook input priority 10; policy accept;
		ip saddr @blocked counter drop
	}
}
`

// A batch the kernel refuses part-way leaves the previous ruleset
// byte-identical, and the error names the policy line of the refused rule.
func TestRefusedBatchLeavesRulesetUntouched(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "atomic")
	path := nsenter.Path(ns.Name)
	out, err := ns.ExecInput(otherTool, "nft", "-f", "-")
	require.NoError(t, err, out)
	require.NoError(t, kernel.Apply(golden.Batch(t, loadExample(t, "server-ssh-https.ks", lang.Config{})), path))
	before := nftList(t, ns)

	for _, name := range []string{"ivpn-killswitch.ks", "server-ssh-https.ks"} { // owns the ruleset / owns its table
		b := golden.Batch(t, loadExample(t, name, lang.Config{}))
		chain := b.Tables[0].Chains[0]
		injected := ir.Pos{File: name, Line: 999, Col: 3}
		// A lookup in a set that does not exist: the kernel refuses it after
		// accepting everything before it in the same batch.
		chain.Rules = append(chain.Rules, nft.NewBatchRule(injected, "ip saddr @nosuchset drop",
			&nftables.Rule{Table: b.Tables[0].Table, Chain: chain.Chain, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Lookup{SourceRegister: 1, SetName: "nosuchset"},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}}))
		err := kernel.Apply(b, path)
		var ae *kernel.ApplyError
		require.True(t, errors.As(err, &ae), "want an ApplyError, got %v", err)
		assert.Equal(t, injected, ae.Pos, "the error must name the refused rule's line")
		assert.Contains(t, ae.Error(), name+":999:3: the kernel refused rule \"ip saddr @nosuchset drop\"")
		assert.Equal(t, before, nftList(t, ns), "a refused batch changed the ruleset")
	}
}

// Read and Restore bring back a ruleset exactly, other tools' tables and
// named sets included; Diff and Status see the policy as loaded.
func TestSnapshotRestoreDiffStatus(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "live")
	path := nsenter.Path(ns.Name)
	out, err := ns.ExecInput(otherTool, "nft", "-f", "-")
	require.NoError(t, err, out)
	server := golden.Batch(t, loadExample(t, "server-ssh-https.ks", lang.Config{}))
	require.NoError(t, kernel.Apply(server, path))
	before := nftList(t, ns)

	d, err := kernel.Diff(server, path)
	require.NoError(t, err)
	assert.False(t, kernel.Changed(d), "a just-applied policy must diff clean: %v", d)
	status, err := kernel.Status(server, path)
	require.NoError(t, err)
	require.NotEmpty(t, status.Rules)
	for _, s := range status.Rules {
		assert.True(t, s.Loaded, "%s %s", s.Pos, s.Text)
	}
	assert.Empty(t, status.Differences)

	withHTTP := golden.Batch(t, loadExample(t, "server-ssh-https.ks", lang.Config{Enable: []string{"http"}}))
	d, err = kernel.Diff(withHTTP, path)
	require.NoError(t, err)
	var changes []string
	for _, l := range d {
		if l.Op != ' ' {
			changes = append(changes, string(l.Op)+" "+strings.TrimSpace(l.Text))
		}
	}
	assert.Equal(t, []string{"+ tcp dport 80 accept  # server-ssh-https.ks:" + golden.Where(t, "examples/server-ssh-https.ks", "tcp dport 80 accept")}, changes)

	// Applying something else and restoring the snapshot brings back the
	// exact ruleset, the other tool's table included.
	killswitch := golden.Batch(t, loadExample(t, "ivpn-killswitch.ks", lang.Config{}))
	snapshot, err := kernel.TakeSnapshot(path, kernel.Replaces(killswitch), killswitch.FlushRuleset)
	require.NoError(t, err)
	defer snapshot.Close()
	require.NoError(t, kernel.Apply(killswitch, path))
	require.NotEqual(t, before, nftList(t, ns))
	report, err := snapshot.Rollback()
	require.NoError(t, err)
	assert.Equal(t, kernel.RollbackReport{}, report, "nothing else changed meanwhile")
	assert.Equal(t, before, nftList(t, ns))

	require.NoError(t, kernel.Remove(server, path))
	assert.Equal(t, "table ip other\n", ns.Exec(t, "nft", "list", "tables"), "remove must delete only the policy's tables")
}

// Status tells every way the policy's tables differ from the policy, not
// only missing rules: a chain whose policy was turned to accept and an
// extra accept rule once left "all 6 rules are loaded".
func TestStatusSeesEveryDifference(t *testing.T) {
	labtest.Require(t, "nft")
	ns := labtest.NewNS(t, "status")
	path := nsenter.Path(ns.Name)
	server := golden.Batch(t, loadExample(t, "server-ssh-https.ks", lang.Config{}))
	require.NoError(t, kernel.Apply(server, path))
	for _, tc := range []struct {
		name, change string
		want         []string
	}{
		{"policy flipped", "add chain inet server INPUT { type filter hook input priority 0; policy accept; }",
			[]string{"-   chain INPUT { type filter hook input priority 0; policy accept; }", "+   chain INPUT { type filter hook input priority 0; policy drop; }"}},
		{"rule inserted", "insert rule inet server INPUT accept", []string{"-     accept"}},
		{"chain added", "add chain inet server sneaky { type filter hook input priority -10; policy accept; }",
			[]string{"-   chain sneaky { type filter hook input priority -10; policy accept; }"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, kernel.Apply(server, path))
			report, err := kernel.Status(server, path)
			require.NoError(t, err)
			require.Empty(t, report.Differences)
			ns.Exec(t, "nft", tc.change)
			report, err = kernel.Status(server, path)
			require.NoError(t, err)
			var got []string
			for _, l := range report.Differences {
				got = append(got, string(l.Op)+" "+l.Text)
			}
			for _, w := range tc.want {
				assert.Contains(t, got, w)
			}
		})
	}
}
