package flows

import (
	"net/netip"
	"os"
	"testing"

	"github.com/ksc-project/ksc/lang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ti-mo/conntrack"
)

// fakeRoutes is a client with eth0 (192.0.2.2, 2001:db8::2, an IPv4
// default route and no IPv6 one) and tun0
// (10.8.0.2, routes 0/1 and 128/1 while the tunnel is up).
type fakeRoutes struct{ tunnelUp bool }

func (r fakeRoutes) Local(a netip.Addr) bool {
	return a == netip.MustParseAddr("192.0.2.2") || a == netip.MustParseAddr("10.8.0.2") || a == netip.MustParseAddr("2001:db8::2") || a.IsLoopback()
}

func (r fakeRoutes) Socket(uint8, netip.AddrPort, netip.AddrPort) (uint32, uint32, bool) {
	return 0, 0, false
}

func (r fakeRoutes) Out(_, dst netip.Addr, _ uint32, _ *uint32) string { return r.interfaceTo(dst) }

func (r fakeRoutes) Forward(_ string, _, dst netip.Addr) string { return r.interfaceTo(dst) }

func (r fakeRoutes) interfaceTo(to netip.Addr) string {
	switch {
	case to.IsLoopback() || r.Local(to):
		return "lo"
	case to == netip.MustParseAddr("198.51.100.1") || netip.MustParsePrefix("192.0.2.0/25").Contains(to):
		return "eth0"
	case to.Is6():
		return "" // no IPv6 route
	case r.tunnelUp:
		return "tun0"
	}
	return "eth0"
}

func flow(proto uint8, src, dst string) conntrack.Flow {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	var f conntrack.Flow
	f.TupleOrig.IP.SourceAddress, f.TupleOrig.IP.DestinationAddress = s.Addr(), d.Addr()
	f.TupleOrig.Proto.Protocol, f.TupleOrig.Proto.SourcePort, f.TupleOrig.Proto.DestinationPort = proto, s.Port(), d.Port()
	return f
}

// The IVPN kill switch closes what goes out of eth0 to anything but the
// VPN servers, and what comes in or is forwarded unasked; it keeps what
// goes through the tunnel and to the VPN server.
func TestAllows(t *testing.T) {
	src, err := os.ReadFile("../examples/ivpn-killswitch.ks")
	require.NoError(t, err)
	p, ds := lang.Load("ivpn-killswitch.ks", src, lang.Config{Defines: []lang.Override{
		{Name: "INET_DEV", Value: "eth0"}, {Name: "VPN_SERVERS", Value: "198.51.100.1"}, {Name: "NTP_SERVERS", Value: "198.51.100.123"}}})
	require.False(t, ds.HasErrors(), "%v", ds)
	const udp, tcp = 17, 6
	for _, tc := range []struct {
		tunnelUp bool
		entry    conntrack.Flow
		want     string // the flow as a closed one is reported, or "" when kept
	}{
		{false, flow(udp, "192.0.2.2:40000", "203.0.113.53:53"), "out eth0 udp 192.0.2.2:40000 203.0.113.53:53"},
		{true, flow(udp, "10.8.0.2:40000", "203.0.113.53:53"), ""},
		{false, flow(udp, "192.0.2.2:40001", "198.51.100.1:1194"), ""},
		{true, flow(tcp, "192.0.2.2:50000", "198.51.100.1:443"), ""},
		{false, flow(tcp, "203.0.113.9:50000", "192.0.2.2:22"), "in eth0 tcp 203.0.113.9:50000 192.0.2.2:22"},
		{false, flow(tcp, "127.0.0.1:50000", "127.0.0.1:631"), ""},
		{false, flow(tcp, "[2001:db8::2]:50000", "[2001:db8:2::80]:80"), "out (no route) tcp [2001:db8::2]:50000 [2001:db8:2::80]:80"},
		{false, flow(udp, "192.0.2.77:5000", "203.0.113.9:53"), "forward eth0 eth0 udp 192.0.2.77:5000 203.0.113.9:53"},
	} {
		pkt, ok := first(tc.entry, fakeRoutes{tc.tunnelUp})
		require.True(t, ok)
		f := Flow{First: pkt, entry: tc.entry}
		if tc.want == "" {
			assert.True(t, Allows(p)(f), "%s must stay open", f)
			continue
		}
		assert.False(t, Allows(p)(f), "%s must be closed", f)
		assert.Equal(t, tc.want, f.String())
	}
}
