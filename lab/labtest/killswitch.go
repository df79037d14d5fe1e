package labtest

import (
	"net/netip"
	"testing"

	"github.com/ksc-project/ksc/lang"
)

// Addresses of the kill-switch lab, all in documentation ranges. Policies
// under test get them through -D, in place of the real servers.
const (
	VPNServers  = "{ 198.51.100.1, 198.51.100.2 }"
	NTPServers  = "{ 198.51.100.123 }"
	LANClients  = "192.0.2.0/25"
	PFClients   = "{ 203.0.113.200 }"
	ForwardPort = "5000"
)

// Config is how kernel tests compile examples/ivpn-killswitch.ks for the
// lab: its addresses moved to the lab's, and option (unless "none") enabled.
func Config(option string) lang.Config {
	cfg := lang.Config{}
	for _, d := range Defines() {
		o, _ := lang.ParseOverride(d)
		cfg.Defines = append(cfg.Defines, o)
	}
	if option != "none" {
		cfg.Enable = []string{option}
	}
	return cfg
}

// OptionChanges says, for each option of examples/ivpn-killswitch.ks, which
// probes it turns from Expected's verdict to another: the article's text
// for each commented-out rule.
var OptionChanges = map[string]map[string]Outcome{
	"none":                 {},
	"lan":                  {"out lan tcp/22": Answered, "out lan udp/5353": Answered},
	"ssh":                  {"in lan tcp/22": Answered},
	"port-forward":         {"in tunnel tcp/5000": Answered, "in tunnel udp/5000": Answered, "in tunnel tcp/5000 from pf-client": Answered},
	"port-forward-log":     {"in tunnel tcp/5000": Answered, "in tunnel udp/5000": Answered, "in tunnel tcp/5000 from pf-client": Answered},
	"port-forward-clients": {"in tunnel tcp/5000 from pf-client": Answered},
	"quiet-drops":          {},
}

// ExpectedWith is Expected with option's changes.
func ExpectedWith(option string) map[string]Outcome {
	want := Expected()
	for probe, outcome := range OptionChanges[option] {
		want[probe] = outcome
	}
	return want
}

// Defines returns the -D NAME=VALUE overrides that point a kill-switch policy
// (one with the reference article's define names) at the lab.
func Defines() []string {
	return []string{
		"VPN_SERVERS=" + VPNServers, "NTP_SERVERS=" + NTPServers, "LAN_CLIENTS=" + LANClients,
		"INET_DEV=eth0", "VPN_DEV=tun0", "FORWARDED_PORT=" + ForwardPort, "PF_CLIENTS=" + PFClients,
	}
}

// Killswitch is a client machine with a physical interface (eth0) on a LAN
// whose router also hosts the internet (VPN servers, an NTP server, a web
// host, IPv6 hosts), and a tunnel interface (tun0) whose far end hosts the
// sites reached through the VPN.
//
//	client  eth0 192.0.2.2/25, 2001:db8:1::2/64 ── lan  192.0.2.1, 2001:db8:1::1
//	                                                    (lo: 198.51.100.1, .2, .123, 203.0.113.80, 2001:db8:2::80)
//	        tun0 192.0.2.130/30 ─────────────────── vpn  192.0.2.129 (lo: 203.0.113.200)
type Killswitch struct {
	Client, LAN, VPN *NS
}

// NewKillswitch builds the lab. The client forwards packets, so that the
// policy's forward chain is what stops them.
func NewKillswitch(t testing.TB) *Killswitch {
	t.Helper()
	k := &Killswitch{Client: NewNS(t, "client"), LAN: NewNS(t, "lan"), VPN: NewNS(t, "vpn")}
	Veth(t, k.Client, "eth0", k.LAN, "lan0")
	Veth(t, k.Client, "tun0", k.VPN, "vpn0")
	c, l, v := k.Client, k.LAN, k.VPN
	c.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	c.Exec(t, "ip", "addr", "add", "192.0.2.2/25", "dev", "eth0")
	c.Exec(t, "ip", "addr", "add", "2001:db8:1::2/64", "dev", "eth0", "nodad")
	c.Exec(t, "ip", "addr", "add", "192.0.2.130/30", "dev", "tun0")
	c.Exec(t, "ip", "route", "add", "default", "via", "192.0.2.1")
	c.Exec(t, "ip", "-6", "route", "add", "default", "via", "2001:db8:1::1")
	c.Exec(t, "ip", "route", "add", "203.0.113.128/25", "via", "192.0.2.129")

	l.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	l.Exec(t, "ip", "addr", "add", "192.0.2.1/25", "dev", "lan0")
	l.Exec(t, "ip", "addr", "add", "2001:db8:1::1/64", "dev", "lan0", "nodad")
	for _, a := range []string{"198.51.100.1/32", "198.51.100.2/32", "198.51.100.123/32", "203.0.113.80/32"} {
		l.Exec(t, "ip", "addr", "add", a, "dev", "lo")
	}
	l.Exec(t, "ip", "addr", "add", "2001:db8:2::80/128", "dev", "lo")
	// Forwarding probes: the LAN sends tunnel-side traffic through the client.
	l.Exec(t, "ip", "route", "add", "203.0.113.128/25", "via", "192.0.2.2")

	v.Exec(t, "ip", "addr", "add", "192.0.2.129/30", "dev", "vpn0")
	v.Exec(t, "ip", "addr", "add", "203.0.113.200/32", "dev", "lo")
	v.Exec(t, "ip", "route", "add", "192.0.2.0/25", "via", "192.0.2.130")
	return k
}

// Probes is the verdict matrix: outbound to the VPN servers, NTP (udp and
// tcp), an internet host, the LAN, through the tunnel and over IPv6; DHCP
// broadcast; inbound new connections on both interfaces and IPv6; forwarded
// packets. Answered probes also prove that replies to allowed traffic pass.
func (k *Killswitch) Probes() []Probe {
	c, l, v := k.Client, k.LAN, k.VPN
	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	return []Probe{
		{Name: "out vpn-server tcp/443", Proto: "tcp", From: c, To: l, Dst: ap("198.51.100.1:443")},
		{Name: "out vpn-server udp/1194", Proto: "udp", From: c, To: l, Dst: ap("198.51.100.2:1194")},
		{Name: "out ntp udp/123", Proto: "udp", From: c, To: l, Dst: ap("198.51.100.123:123")},
		{Name: "out ntp tcp/123", Proto: "tcp", From: c, To: l, Dst: ap("198.51.100.123:123")},
		{Name: "out ntp-host udp/53", Proto: "udp", From: c, To: l, Dst: ap("198.51.100.123:53")},
		{Name: "out web tcp/80 via eth0", Proto: "tcp", From: c, To: l, Dst: ap("203.0.113.80:80")},
		{Name: "out web udp/53 via eth0", Proto: "udp", From: c, To: l, Dst: ap("203.0.113.80:53")},
		{Name: "out lan tcp/22", Proto: "tcp", From: c, To: l, Dst: ap("192.0.2.1:22")},
		{Name: "out lan udp/5353", Proto: "udp", From: c, To: l, Dst: ap("192.0.2.1:5353")},
		{Name: "out dhcp broadcast udp/67", Proto: "udp", From: c, Device: "eth0", To: l, Dst: ap("255.255.255.255:67")},
		{Name: "out tunnel tcp/80", Proto: "tcp", From: c, To: v, Dst: ap("203.0.113.200:80")},
		{Name: "out tunnel udp/53", Proto: "udp", From: c, To: v, Dst: ap("203.0.113.200:53")},
		{Name: "out ipv6 web tcp/80", Proto: "tcp", From: c, To: l, Dst: ap("[2001:db8:2::80]:80")},
		{Name: "out ipv6 lan udp/53", Proto: "udp", From: c, To: l, Dst: ap("[2001:db8:1::1]:53")},
		{Name: "out loopback tcp/8080", Proto: "tcp", From: c, To: c, Dst: ap("127.0.0.1:8080")},
		{Name: "in lan tcp/22", Proto: "tcp", From: l, To: c, Dst: ap("192.0.2.2:22")},
		{Name: "in vpn-server tcp/443", Proto: "tcp", From: l, Src: a("198.51.100.1"), To: c, Dst: ap("192.0.2.2:443")},
		{Name: "in ipv6 lan tcp/22", Proto: "tcp", From: l, To: c, Dst: ap("[2001:db8:1::2]:22")},
		{Name: "in tunnel tcp/5000", Proto: "tcp", From: v, To: c, Dst: ap("192.0.2.130:5000")},
		{Name: "in tunnel udp/5000", Proto: "udp", From: v, To: c, Dst: ap("192.0.2.130:5000")},
		{Name: "in tunnel tcp/5000 from pf-client", Proto: "tcp", From: v, Src: a("203.0.113.200"), To: c, Dst: ap("192.0.2.130:5000")},
		{Name: "in tunnel tcp/5001", Proto: "tcp", From: v, Src: a("203.0.113.200"), To: c, Dst: ap("192.0.2.130:5001")},
		{Name: "forward lan to tunnel tcp/80", Proto: "tcp", From: l, To: v, Dst: ap("203.0.113.200:80")},
		{Name: "forward lan to tunnel udp/53", Proto: "udp", From: l, To: v, Dst: ap("203.0.113.200:53")},
	}
}

// Expected is the article's kill switch with no optional rule enabled, probe
// by probe, as the article describes it: only the VPN servers, NTP over UDP,
// DHCP broadcast, loopback and the tunnel are reachable; nothing comes in
// unasked and nothing is forwarded.
func Expected() map[string]Outcome {
	return map[string]Outcome{
		"out vpn-server tcp/443":            Answered,
		"out vpn-server udp/1194":           Answered,
		"out ntp udp/123":                   Answered,
		"out ntp tcp/123":                   Blocked,
		"out ntp-host udp/53":               Blocked,
		"out web tcp/80 via eth0":           Blocked,
		"out web udp/53 via eth0":           Blocked,
		"out lan tcp/22":                    Blocked,
		"out lan udp/5353":                  Blocked,
		"out dhcp broadcast udp/67":         Delivered,
		"out tunnel tcp/80":                 Answered,
		"out tunnel udp/53":                 Answered,
		"out ipv6 web tcp/80":               Blocked,
		"out ipv6 lan udp/53":               Blocked,
		"out loopback tcp/8080":             Answered,
		"in lan tcp/22":                     Blocked,
		"in vpn-server tcp/443":             Blocked,
		"in ipv6 lan tcp/22":                Blocked,
		"in tunnel tcp/5000":                Blocked,
		"in tunnel udp/5000":                Blocked,
		"in tunnel tcp/5000 from pf-client": Blocked,
		"in tunnel tcp/5001":                Blocked,
		"forward lan to tunnel tcp/80":      Blocked,
		"forward lan to tunnel udp/53":      Blocked,
	}
}
