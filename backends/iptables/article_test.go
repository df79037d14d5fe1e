package iptables_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ksc-project/ksc/backends/iptables"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// articleRules returns a rule file of the predecessor article (v4 or v6)
// with its placeholders filled in, its OPTIONAL lines kept only when wanted,
// and its published defects fixed: en-dashes, "--dport" without a protocol
// (one line per protocol), "-m state".
func articleRules(t *testing.T, file string, keep map[string]bool) string {
	md, err := os.ReadFile(filepath.Join(golden.Root(t), "testdata", "reference", "ivpn-iptables-predecessor.md"))
	require.NoError(t, err)
	block := regexp.MustCompile("(?s)## " + regexp.QuoteMeta(file) + "\n```\n(.*?)```").FindSubmatch(md)
	require.NotNil(t, block, "no %s block in the article", file)
	var out []string
	for _, line := range strings.Split(string(block[1]), "\n") {
		rule, comment, _ := strings.Cut(line, "#")
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		if strings.Contains(comment, "OPTIONAL: port forwarding") && !keep["port-forward"] ||
			strings.Contains(comment, "OPTIONAL: LAN") && !keep["lan"] {
			continue
		}
		rule = strings.ReplaceAll(rule, "–", "--")
		rule = strings.ReplaceAll(rule, "-m state --state", "-m conntrack --ctstate")
		rule = strings.NewReplacer("a.b.c.d", "198.51.100.7", "x.y.z.0/24", "192.168.0.0/24", "--dport N", "--dport 54321").Replace(rule)
		switch {
		case strings.Contains(rule, "e.f.g.h"): // one rule per VPN server
			for _, server := range []string{"141.255.166.194", "185.212.170.138"} {
				out = append(out, strings.Replace(rule, "e.f.g.h", server, 1))
			}
		case strings.Contains(rule, "--dport") && !strings.Contains(rule, " -p "):
			for _, proto := range []string{"tcp", "udp"} {
				out = append(out, strings.Replace(rule, "--dport", "-p "+proto+" --dport", 1))
			}
		default:
			out = append(out, rule)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// examples/ivpn-iptables.ks gives the article's two rule files: loaded side
// by side, iptables-save shows the same rules, with and without options.
func TestExampleGivesThePredecessorArticlesRules(t *testing.T) {
	labtest.Require(t, "iptables-nft-restore")
	src, err := os.ReadFile(filepath.Join(golden.Root(t), "examples", "ivpn-iptables.ks"))
	require.NoError(t, err)
	for _, options := range [][]string{nil, {"lan"}, {"port-forward"}, {"lan", "port-forward"}} {
		keep := map[string]bool{}
		for _, o := range options {
			keep[o] = true
		}
		cfg := lang.Config{Enable: options, Defines: []lang.Override{
			{Name: "FORWARDED_PORT", Value: "54321"}, {Name: "PF_CLIENTS", Value: "198.51.100.7"}}}
		p, ds := lang.Load("ivpn-iptables.ks", src, cfg)
		require.False(t, ds.HasErrors(), "%v", ds)
		for _, f := range []struct {
			file    string
			family  ir.Family
			restore string
			save    string
		}{{"vpn-rules.v4", ir.IPv4, "iptables-nft-restore", "iptables-nft-save"}, {"vpn-rules.v6", ir.IPv6, "ip6tables-nft-restore", "ip6tables-nft-save"}} {
			o, err := iptables.Render(p, f.family)
			require.NoError(t, err)
			ours, theirs := labtest.NewNS(t, "ours"), labtest.NewNS(t, "article")
			out, err := ours.ExecInput(string(o.Text), f.restore)
			require.NoError(t, err, out)
			article := articleRules(t, f.file, keep)
			out, err = theirs.ExecInput(article, f.restore)
			require.NoError(t, err, "%s\n%s", out, article)
			assert.Equal(t, ruleLines(theirs.Exec(t, f.save, "-t", "filter")), ruleLines(ours.Exec(t, f.save, "-t", "filter")),
				"%s with options %v", f.file, options)
		}
	}
}
