// Package routing puts a policy's routing tables in force in a network
// namespace, and takes them away: the rules that send marked packets to
// a table ("ip rule add fwmark M table T") and the table's routes, what
// a split tunnel needs beside the firewall. Every rule and route ksc
// makes carries its own route protocol (Protocol), by which it tells
// them from other programs'.
package routing

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/ksc-project/ksc/internal/nsenter"
	"github.com/ksc-project/ksc/ir"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Protocol marks the rules and routes ksc makes ("proto 107" in ip's
// listings), a number no routing daemon of /etc/iproute2/rt_protos uses.
const Protocol = 107

// entry is a rule or a route in force, of one family, keyed by its text.
type entry struct {
	text  string
	rule  *netlink.Rule
	route *netlink.Route
	// missing says why a route of the policy cannot be made here (its
	// interface is not there): Diff shows it, Apply refuses it.
	missing string
}

// State is the rules and routes ksc has in force in a namespace, and
// src_valid_mark's value: what a rollback puts back.
type State struct {
	entries      []entry
	srcValidMark string
}

// Lines lists them, as status and diff print them.
func (s State) Lines() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.text
	}
	return out
}

// srcValidMark is the sysctl a table's src_valid_mark line turns on.
const srcValidMark = "net/ipv4/conf/all/src_valid_mark"

// srcValidMarkLine is how status and diff show it turned on.
const srcValidMarkLine = "sysctl net.ipv4.conf.all.src_valid_mark = 1"

func readSysctl(nsPath string) (string, error) {
	var v string
	err := nsenter.Run(nsPath, func() error {
		data, err := os.ReadFile("/proc/sys/" + srcValidMark)
		v = strings.TrimSpace(string(data))
		return err
	})
	return v, err
}

func writeSysctl(nsPath, v string) error {
	return nsenter.Run(nsPath, func() error { return os.WriteFile("/proc/sys/"+srcValidMark, []byte(v), 0o644) })
}

// wantsSrcValidMark reports a table that turns src_valid_mark on.
func wantsSrcValidMark(tables []*ir.RoutingTable) bool {
	return slices.ContainsFunc(tables, func(t *ir.RoutingTable) bool { return t.SrcValidMark })
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func familyName(f int) string {
	if f == unix.AF_INET6 {
		return "ip6"
	}
	return "ip"
}

func ruleText(f int, table uint32, r ir.RouteRule) string {
	return fmt.Sprintf("%s %s table %d", familyName(f), r.Text(), table)
}

func routeText(table uint32, r ir.Route) string {
	return fmt.Sprintf("%s table %d", r.Text(), table)
}

// desired is what the tables put in force: for each, its routes, then
// its rules (both families), so that a rule never sends packets to a
// table that is not yet there.
func desired(h *netlink.Handle, tables []*ir.RoutingTable) (State, error) {
	var s State
	var errs []error
	for _, t := range tables {
		for _, r := range t.Routes {
			route := &netlink.Route{Table: int(t.ID), Protocol: Protocol, Family: family(r.Dst.Addr()),
				Dst: &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), r.Dst.Addr().BitLen())}}
			if r.Via.IsValid() {
				route.Gw = r.Via.AsSlice()
			}
			if r.Dev != "" {
				link, err := h.LinkByName(r.Dev)
				if err != nil {
					why := fmt.Sprintf("interface %s does not exist here", r.Dev)
					errs = append(errs, fmt.Errorf("%s: %s: %s", r.Pos, r.Text(), why))
					s.entries = append(s.entries, entry{text: routeText(t.ID, r), missing: why})
					continue
				}
				route.LinkIndex = link.Attrs().Index
			}
			s.entries = append(s.entries, entry{text: routeText(t.ID, r), route: route})
		}
		for _, r := range t.Rules {
			for _, f := range []int{unix.AF_INET, unix.AF_INET6} {
				rule := netlink.NewRule()
				rule.Family, rule.Table, rule.Priority, rule.Mark, rule.Protocol = f, int(t.ID), int(r.Priority), r.Mark, Protocol
				s.entries = append(s.entries, entry{text: ruleText(f, t.ID, r), rule: rule})
			}
		}
	}
	return s, errors.Join(errs...)
}

// read is what ksc has in force, and every other program's rules and
// routes in the tables ksc's would use.
func read(h *netlink.Handle, tables []*ir.RoutingTable) (ours State, others []string, err error) {
	wanted := map[int]bool{}
	for _, t := range tables {
		wanted[int(t.ID)] = true
	}
	for _, f := range []int{unix.AF_INET, unix.AF_INET6} {
		routes, err := h.RouteListFiltered(f, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return ours, nil, fmt.Errorf("listing routes: %w", err)
		}
		for _, r := range routes {
			switch {
			case r.Protocol == Protocol:
				route := r
				ours.entries = append(ours.entries, entry{text: routeLine(h, r), route: &route})
			case wanted[r.Table] && r.Type != unix.RTN_LOCAL && r.Type != unix.RTN_BROADCAST:
				others = append(others, fmt.Sprintf("route %s in table %d (proto %d)", r.Dst, r.Table, r.Protocol))
			}
		}
		rules, err := h.RuleList(f)
		if err != nil {
			return ours, nil, fmt.Errorf("listing routing rules: %w", err)
		}
		for _, r := range rules {
			switch {
			case r.Protocol == Protocol:
				rule := r
				ours.entries = append(ours.entries, entry{text: fmt.Sprintf("%s rule fwmark %s priority %d table %d", familyName(f), ir.KindMark.NameOf(r.Mark), r.Priority, r.Table), rule: &rule})
			case wanted[r.Table]:
				others = append(others, fmt.Sprintf("%s rule %d to table %d (proto %d)", familyName(f), r.Priority, r.Table, r.Protocol))
			}
		}
	}
	return ours, others, nil
}

// routeLine writes a route in force as a policy's route line.
func routeLine(h *netlink.Handle, r netlink.Route) string {
	route := ir.Route{}
	if r.Dst != nil {
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		route.Dst = netip.PrefixFrom(a.Unmap(), ones)
	} else if r.Family == unix.AF_INET6 {
		route.Dst = netip.MustParsePrefix("::/0")
	} else {
		route.Dst = netip.MustParsePrefix("0.0.0.0/0")
	}
	if r.Gw != nil {
		route.Via, _ = netip.AddrFromSlice(r.Gw)
		route.Via = route.Via.Unmap()
	}
	if r.LinkIndex > 0 {
		if link, err := h.LinkByIndex(r.LinkIndex); err == nil {
			route.Dev = link.Attrs().Name
		}
	}
	return routeText(uint32(r.Table), route)
}

func handle(nsPath string) (*netlink.Handle, error) {
	ns, err := nsenter.Open(nsPath)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return netlink.NewHandleAt(ns)
}

// Read is what ksc has in force in the namespace at nsPath.
func Read(nsPath string) (State, error) {
	h, err := handle(nsPath)
	if err != nil {
		return State{}, err
	}
	defer h.Close()
	s, _, err := read(h, nil)
	if err != nil {
		return s, err
	}
	s.srcValidMark, err = readSysctl(nsPath)
	return s, err
}

// Diff is what Apply would change: lines to add ('+') and to take away
// ('-'), as status and diff print them.
func Diff(nsPath string, tables []*ir.RoutingTable) (add, remove []string, err error) {
	h, err := handle(nsPath)
	if err != nil {
		return nil, nil, err
	}
	defer h.Close()
	want, _ := desired(h, tables) // a route that cannot be made is a line to add, and why
	have, _, err := read(h, tables)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range want.entries {
		switch {
		case e.missing != "":
			add = append(add, e.text+" ("+e.missing+")")
		case !slices.Contains(have.Lines(), e.text):
			add = append(add, e.text)
		}
	}
	for _, l := range have.Lines() {
		if !slices.Contains(want.Lines(), l) {
			remove = append(remove, l)
		}
	}
	if wantsSrcValidMark(tables) {
		v, err := readSysctl(nsPath)
		if err != nil {
			return nil, nil, err
		}
		if v != "1" {
			add = append(add, srcValidMarkLine)
		}
	}
	return add, remove, nil
}

// Check refuses tables another program uses (its routes or rules in a
// table the policy declares would mix with the policy's), and routes out
// of interfaces that are not there: before anything is applied.
func Check(nsPath string, tables []*ir.RoutingTable) error {
	if len(tables) == 0 {
		return nil
	}
	h, err := handle(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	if _, err := desired(h, tables); err != nil {
		return err // a route's interface that is not there
	}
	_, others, err := read(h, tables)
	if err != nil {
		return err
	}
	if len(others) > 0 {
		return fmt.Errorf("another program uses the routing tables the policy declares (%s): choose a table number of the policy's own", strings.Join(others, "; "))
	}
	return nil
}

// Apply makes what ksc has in force the tables': the routes, then the
// rules that send packets to them; then it takes away ksc's rules, then
// routes, that the tables no longer have.
func Apply(nsPath string, tables []*ir.RoutingTable) error {
	h, err := handle(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	want, err := desired(h, tables)
	if err != nil {
		return err
	}
	if err := apply(h, want); err != nil {
		return err
	}
	if wantsSrcValidMark(tables) {
		return writeSysctl(nsPath, "1")
	}
	return nil
}

// PutBack makes what ksc has in force s again (a rollback).
func PutBack(nsPath string, s State) error {
	h, err := handle(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := apply(h, s); err != nil {
		return err
	}
	if v, err := readSysctl(nsPath); err != nil || v == s.srcValidMark || s.srcValidMark == "" {
		return err
	}
	return writeSysctl(nsPath, s.srcValidMark)
}

// apply adds the entries of want that are not in force, in order, then
// takes away what ksc has in force that want does not have.
func apply(h *netlink.Handle, want State) error {
	have, _, err := read(h, nil)
	if err != nil {
		return err
	}
	for _, e := range want.entries {
		if slices.Contains(have.Lines(), e.text) {
			continue
		}
		if e.route != nil {
			if err := h.RouteReplace(e.route); err != nil {
				return fmt.Errorf("%s: %w", e.text, err)
			}
		} else if err := h.RuleAdd(e.rule); err != nil {
			return fmt.Errorf("%s: %w", e.text, err)
		}
	}
	return removeAll(h, have, want.Lines())
}

// removeAll takes away the entries of have not in keep: rules first,
// then routes.
func removeAll(h *netlink.Handle, have State, keep []string) error {
	var errs []error
	for _, rules := range []bool{true, false} {
		for _, e := range have.entries {
			if slices.Contains(keep, e.text) || (e.rule != nil) != rules {
				continue
			}
			var err error
			if e.rule != nil {
				err = h.RuleDel(e.rule)
			} else {
				err = h.RouteDel(e.route)
			}
			if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("removing %s: %w", e.text, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Remove takes away every rule and route ksc has in force: the rules
// first, then the routes.
func Remove(nsPath string) error {
	h, err := handle(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()
	have, _, err := read(h, nil)
	if err != nil {
		return err
	}
	return removeAll(h, have, nil)
}
