package iptables

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// How iptables lists a rule back must not read as a change; a change of
// meaning must.
func TestCanonical(t *testing.T) {
	same := [][2]string{
		{"-A OUTPUT -p udp -m udp --sport 67 --dport 68 -j ACCEPT", "-A OUTPUT -p udp -m udp --sport 67 -m udp --dport 68 -j ACCEPT"},
		{"-A OUTPUT -p udp -m udp --dport 68 --sport 67 -j ACCEPT", "-A OUTPUT -p udp -m udp --sport 67 --dport 68 -j ACCEPT"},
		{"-A INPUT ! -s 192.0.2.0/24 ! -i tun0 -p tcp -m tcp --dport 22 -j DROP", "-A INPUT ! -i tun0 ! -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j DROP"},
		{`-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "last one" -j LOG --log-prefix "in: "`,
			`-A INPUT -m comment --comment "last one" -m conntrack --ctstate RELATED,ESTABLISHED -j LOG --log-prefix "in: "`},
	}
	for _, s := range same {
		assert.Equal(t, Canonical(s[0]), Canonical(s[1]), s[0])
	}
	different := [][2]string{
		{"-A OUTPUT -m conntrack --ctstate NEW -j ACCEPT", "-A OUTPUT -m conntrack ! --ctstate NEW -j ACCEPT"},
		{"-A OUTPUT ! -o eth0 -j ACCEPT", "-A OUTPUT -o eth0 -j ACCEPT"},
		{"-A OUTPUT -p udp -m udp --sport 67 -j ACCEPT", "-A OUTPUT -p udp -m udp --dport 67 -j ACCEPT"},
		{`-A INPUT -j LOG --log-prefix "a b"`, `-A INPUT -j LOG --log-prefix "a  b"`},
		{"-A INPUT -p tcp -j ACCEPT", "-A OUTPUT -p tcp -j ACCEPT"},
	}
	for _, d := range different {
		assert.NotEqual(t, Canonical(d[0]), Canonical(d[1]), d[0])
	}
}

func TestRuleDiff(t *testing.T) {
	have := []string{"-P INPUT DROP", "-A INPUT -p udp -m udp --sport 67 -m udp --dport 68 -j ACCEPT"}
	want := []string{"-P INPUT DROP", "-A INPUT -p udp -m udp --sport 67 --dport 68 -j ACCEPT", "-A INPUT -i lo -j ACCEPT"}
	assert.Equal(t, []string{"iptables + -A INPUT -i lo -j ACCEPT"}, ruleDiff("iptables", have, want))
}
