package e2e

import (
	"testing"

	"github.com/ksc-project/ksc/lab/labtest"
	"github.com/stretchr/testify/assert"
)

// With the client config patched by "ksc openvpn patch" (and no firewall),
// the tunnel comes up, IPv4 goes through it, and IPv6 to a host outside the
// tunnel never leaves the physical interface. Without the patch the same
// IPv6 traffic does leave it: the leak the directives close.
func TestOpenVPNBlockIPv6(t *testing.T) {
	l := newLab(t)
	for _, patched := range []bool{false, true} {
		vpn := l.startClient(t, patched)
		outcomes, arrived := l.run(t)
		assert.Equal(t, labtest.Answered, outcomes["web"], "patched=%v", patched)
		assert.NotZero(t, arrived["web via tunnel"], "patched=%v", patched)
		assert.Zero(t, arrived["web via eth0"], "patched=%v", patched)
		if patched {
			assert.Equal(t, labtest.Blocked, outcomes["ipv6"])
			assert.Zero(t, arrived["ipv6 via eth0"], "IPv6 leaked past the tunnel")
		} else {
			assert.Equal(t, labtest.Answered, outcomes["ipv6"], "without block-ipv6 this lab must show the leak")
			assert.NotZero(t, arrived["ipv6 via eth0"], "without block-ipv6 this lab must show the leak")
		}
		l.stopClient(t, vpn)
	}
}
