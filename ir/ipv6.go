package ir

import "net/netip"

// IPv6Plan says how a policy deals with IPv6 beyond its firewall rules: the
// article's other two leak defences, each produced by its own backend.
type IPv6Plan struct {
	// Sysctl, when set, disables IPv6 through sysctl.
	Sysctl *SysctlPlan
	// OpenVPN, when set, makes the OpenVPN client tunnel IPv6 and block it.
	OpenVPN *OpenVPNPlan
}

// SysctlPlan disables IPv6 on all interfaces and new ones, and on loopback
// unless KeepLoopback is set.
type SysctlPlan struct {
	Pos          Pos
	KeepLoopback bool
}

// OpenVPNPlan gives the client a tunnel IPv6 address (a ULA) and routes all
// IPv6 into the tunnel, where block-ipv6 refuses it.
type OpenVPNPlan struct {
	Pos     Pos
	Local   netip.Prefix // the client's tunnel address, e.g. fd15:53b6:dead::2/64
	Gateway netip.Addr   // the far end, e.g. fd15:53b6:dead::1
}

// DefaultOpenVPNPlan is the ULA pair from the OpenVPN 2.5 manual, which the
// reference article uses.
func DefaultOpenVPNPlan() OpenVPNPlan {
	return OpenVPNPlan{
		Local:   netip.MustParsePrefix("fd15:53b6:dead::2/64"),
		Gateway: netip.MustParseAddr("fd15:53b6:dead::1"),
	}
}
