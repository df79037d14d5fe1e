package openvpn_test

import (
	"testing"

	"github.com/ksc-project/ksc/backends/openvpn"
	"github.com/ksc-project/ksc/internal/golden"
	"github.com/ksc-project/ksc/ir"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGolden(t *testing.T) {
	n := 0
	for _, c := range golden.Cases(t) {
		p := c.Load(t)
		// Options change only firewall rules: the base cases suffice.
		if p.IPv6.OpenVPN == nil || len(c.Config.Enable) > 0 {
			continue
		}
		n++
		out, err := openvpn.Render(p)
		require.NoError(t, err)
		golden.Check(t, golden.Path(t, "openvpn", c.Name, ".conf"), out)
	}
	assert.NotZero(t, n, "no policy has an ipv6 openvpn statement")
}

var article = openvpn.Directives(ir.DefaultOpenVPNPlan())

func TestPatch(t *testing.T) {
	const added = "ifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1\nredirect-gateway ipv6\nblock-ipv6\n"
	tests := []struct {
		name, in, want string
		conflicts      []string
	}{
		{name: "above verb",
			in:   "client\ndev tun\nremote 198.51.100.1 1194\nverb 3\nmute 20\n",
			want: "client\ndev tun\nremote 198.51.100.1 1194\n" + added + "verb 3\nmute 20\n"},
		{name: "no verb: at the end",
			in:   "client\ndev tun\n",
			want: "client\ndev tun\n" + added},
		{name: "no verb and no final newline",
			in:   "client\ndev tun",
			want: "client\ndev tun\n" + added},
		{name: "CRLF line endings are kept",
			in:   "client\r\ndev tun\r\nverb 3\r\n",
			want: "client\r\ndev tun\r\nifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1\r\nredirect-gateway ipv6\r\nblock-ipv6\r\nverb 3\r\n"},
		{name: "comments and inline blocks are skipped",
			in:   "# verb 9 in a comment\n; block-ipv6 commented out\n<ca>\nverb 5\n-----BEGIN CERTIFICATE-----\n</ca>\nverb 4 # trailing comment\n",
			want: "# verb 9 in a comment\n; block-ipv6 commented out\n<ca>\nverb 5\n-----BEGIN CERTIFICATE-----\n</ca>\n" + added + "verb 4 # trailing comment\n"},
		{name: "directives already present are not duplicated",
			in:   "client\nblock-ipv6\nverb 3\n",
			want: "client\nblock-ipv6\nifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1\nredirect-gateway ipv6\nverb 3\n"},
		{name: "redirect-gateway with ipv6 among its flags counts",
			in:   "redirect-gateway def1 ipv6\nverb 3\n",
			want: "redirect-gateway def1 ipv6\nifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1\nblock-ipv6\nverb 3\n"},
		{name: "another value is a conflict and nothing changes",
			in:        "ifconfig-ipv6 fd00::2/64 fd00::1\nredirect-gateway def1\nverb 3\n",
			want:      "ifconfig-ipv6 fd00::2/64 fd00::1\nredirect-gateway def1\nverb 3\n",
			conflicts: []string{`line 1 has "ifconfig-ipv6 fd00::2/64 fd00::1", ksc wants "ifconfig-ipv6 fd15:53b6:dead::2/64 fd15:53b6:dead::1"`, `line 2 has "redirect-gateway def1", ksc wants "redirect-gateway ipv6"`}},
		{name: "empty file",
			in:   "",
			want: added},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := openvpn.Patch([]byte(tt.in), article)
			assert.Equal(t, tt.want, string(res.Output))
			var conflicts []string
			for _, c := range res.Conflicts {
				conflicts = append(conflicts, c.String())
			}
			assert.Equal(t, tt.conflicts, conflicts)
			// Idempotent: patching the result again changes nothing.
			again := openvpn.Patch(res.Output, article)
			assert.Equal(t, string(res.Output), string(again.Output))
			assert.False(t, again.Changed())
		})
	}
}
