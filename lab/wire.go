package lab

import (
	"encoding/binary"
	"net/netip"

	"github.com/ksc-project/ksc/ir"
	"github.com/ksc-project/ksc/sim"
)

// TCP flag bits, as on the wire.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// Ports of the flow an ICMP error refers to: the packet that caused it
// went from the error's destination to its source.
const (
	innerSport = 40000
	innerDport = 33434
)

// wire is the packet as bytes from the IP header on. badChecksum spoils
// the transport checksum, which conntrack then calls invalid.
func wire(p sim.Packet, badChecksum bool) []byte {
	l4 := transport(p.Packet)
	sum := transportChecksum(p.Src, p.Dst, p.Protocol, l4)
	if badChecksum {
		sum ^= 0x5a5a
	}
	if sum != 0 || p.Protocol != ir.ICMP {
		binary.BigEndian.PutUint16(l4[checksumOffset(p.Protocol):], sum)
	}
	return ipHeader(p.Src, p.Dst, p.Protocol, p.Hops(), p.DSCP, l4)
}

// ipHeader is an IPv4 or IPv6 header before payload; dscp goes in the
// six high bits of the TOS byte or the traffic class.
func ipHeader(src, dst netip.Addr, proto ir.Protocol, ttl, dscp uint8, payload []byte) []byte {
	if src.Is4() {
		h := make([]byte, 20, 20+len(payload))
		h[0], h[1] = 0x45, dscp<<2
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
		binary.BigEndian.PutUint16(h[4:], 0x6b73) // "ks": any id will do
		h[8], h[9] = ttl, uint8(proto)
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], checksum(0, h))
		return append(h, payload...)
	}
	h := make([]byte, 40, 40+len(payload))
	h[0], h[1] = 0x60|dscp>>2, dscp<<6
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = uint8(proto), ttl
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

// transport is the transport header and a little payload, checksum zero.
func transport(p ir.Packet) []byte {
	payload := []byte("ksc lab probe")
	switch p.Protocol {
	case ir.TCP:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], p.Sport)
		binary.BigEndian.PutUint16(h[2:], p.Dport)
		binary.BigEndian.PutUint32(h[4:], 1000)
		if p.TCPFlags&tcpACK != 0 {
			binary.BigEndian.PutUint32(h[8:], 2000)
		}
		h[12] = 5 << 4
		h[13] = p.TCPFlags
		binary.BigEndian.PutUint16(h[14:], 65535)
		return h
	case ir.UDP:
		h := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint16(h[0:], p.Sport)
		binary.BigEndian.PutUint16(h[2:], p.Dport)
		binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
		return append(h, payload...)
	default:
		h := []byte{p.ICMPType, p.ICMPCode, 0, 0, 0x6b, 0x73, 0, 1}
		if isICMPError(p) {
			// The packet it reports: a UDP datagram the receiver of the
			// error sent to its sender.
			inner := make([]byte, 8)
			binary.BigEndian.PutUint16(inner[0:], innerSport)
			binary.BigEndian.PutUint16(inner[2:], innerDport)
			binary.BigEndian.PutUint16(inner[4:], 8+uint16(len(payload)))
			full := ipHeader(p.Dst, p.Src, ir.UDP, 64, 0, append(inner, payload...))
			binary.BigEndian.PutUint16(full[len(full)-len(payload)-2:], transportChecksum(p.Dst, p.Src, ir.UDP, full[len(full)-len(payload)-8:]))
			return append(h, full...)
		}
		return append(h, payload...)
	}
}

func checksumOffset(proto ir.Protocol) int {
	switch proto {
	case ir.TCP:
		return 16
	case ir.UDP:
		return 6
	}
	return 2
}

// transportChecksum covers the pseudo-header, but for ICMP (IPv4's has
// none).
func transportChecksum(src, dst netip.Addr, proto ir.Protocol, l4 []byte) uint16 {
	var pseudo []byte
	if proto != ir.ICMP {
		pseudo = append(pseudo, src.AsSlice()...)
		pseudo = append(pseudo, dst.AsSlice()...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(l4)))
		pseudo = append(pseudo, 0, 0, 0, uint8(proto))
	}
	sum := checksum(sumWords(0, pseudo), l4)
	if sum == 0 && proto == ir.UDP {
		sum = 0xffff // zero means "no checksum" in UDP
	}
	return sum
}

func sumWords(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func checksum(sum uint32, b []byte) uint16 {
	sum = sumWords(sum, b)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// isICMPError reports an ICMP error message: one that carries the packet
// it reports, and that no kernel answers with another error.
func isICMPError(p ir.Packet) bool {
	switch p.Protocol {
	case ir.ICMP:
		switch p.ICMPType {
		case 3, 4, 5, 11, 12:
			return true
		}
	case ir.ICMPv6:
		return p.ICMPType < 128
	}
	return false
}
