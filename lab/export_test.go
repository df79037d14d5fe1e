package lab

import (
	"net/netip"

	"github.com/ksc-project/ksc/sim"
)

// What the external tests reach inside a lab.
var PlanFor = planFor

func (l *Lab) Route(p sim.Packet, dst netip.Addr) (undo func() error, err error) {
	return l.route(p, dst)
}

func (l *Lab) RouteType(dst netip.Addr) (int, error) {
	routes, err := l.fw.RouteGet(dst.AsSlice())
	if err != nil {
		return 0, err
	}
	return int(routes[0].Type), nil
}
