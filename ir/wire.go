package ir

import (
	"encoding/binary"
	"net/netip"
)

// The packet as bytes, from its IP header on: what the lab sends, and
// what the simulator reads header fields from (ip length, tcp window),
// so that both see one packet.

// Ports of the flow an ICMP error refers to: the packet that caused it
// went from the error's destination to its source.
const (
	ICMPErrorInnerSport = 40000
	ICMPErrorInnerDport = 33434
)

// What a packet carries where a packet line says nothing.
const (
	wireID       = 0x6b73 // "ks": any id will do
	wireSequence = 1000
	wireAckseq   = 2000
	wireWindow   = 65535
	wireICMPSeq  = 1
)

// HeaderValue is a value a packet line gives a header field ("window 512").
type HeaderValue struct {
	Field Field
	Value uint32
}

// Wire is the packet as bytes from the IP header on. An invalid UDP
// packet that arrives carries a wrong checksum: conntrack checks the
// checksums of arriving packets only, and calls such a packet invalid.
func (p Packet) Wire() []byte {
	l4 := p.transport()
	p.setHeaders(TransportHeader, l4)
	sum := transportChecksum(p.Src, p.Dst, p.Protocol, l4)
	if p.Protocol == UDP && p.CtState == CtInvalid && p.Iif != "" {
		sum ^= 0x5a5a
	}
	if sum != 0 || p.Protocol != ICMP {
		binary.BigEndian.PutUint16(l4[checksumOffset(p.Protocol):], sum)
	}
	h := ipHeader(p.Src, p.Dst, p.Protocol, p.Hops(), p.DSCP, l4)
	p.setHeaders(NetworkHeader, h)
	if p.Src.Is4() {
		binary.BigEndian.PutUint16(h[10:], 0)
		binary.BigEndian.PutUint16(h[10:], checksum(0, h[:20]))
	}
	return h
}

// setHeaders writes the values a packet line gave fields of header h
// into b, whose first byte is that header's.
func (p Packet) setHeaders(h Header, b []byte) {
	for _, v := range p.Headers {
		if place := v.Field.Spec().Place; place.Header == h {
			place.put(b, v.Value)
		}
	}
}

// headerValue reads a header field's value from the packet's bytes.
func (p Packet) headerValue(f Field) uint32 {
	b := p.Wire()
	place := f.Spec().Place
	if place.Header == TransportHeader {
		b = b[ipHeaderLen(p.Family()):]
	}
	return place.get(b)
}

func ipHeaderLen(f Family) int {
	if f == IPv4 {
		return 20
	}
	return 40
}

// window is the big-endian number in the bytes that hold the place, and
// how far right of its last bit the field ends.
func (hb HeaderBits) window() (first, n int, pad uint) {
	first = int(hb.Offset / 8)
	end := int(hb.Offset) + int(hb.Width)
	n = (end+7)/8 - first
	return first, n, uint(n*8 - (end - first*8))
}

func (hb HeaderBits) mask() uint64 { return 1<<hb.Width - 1 }

func (hb HeaderBits) get(b []byte) uint32 {
	first, n, pad := hb.window()
	var v uint64
	for _, c := range b[first : first+n] {
		v = v<<8 | uint64(c)
	}
	return uint32(v >> pad & hb.mask())
}

func (hb HeaderBits) put(b []byte, value uint32) {
	first, n, pad := hb.window()
	var v uint64
	for _, c := range b[first : first+n] {
		v = v<<8 | uint64(c)
	}
	v = v&^(hb.mask()<<pad) | (uint64(value)&hb.mask())<<pad
	for i := n - 1; i >= 0; i-- {
		b[first+i] = byte(v)
		v >>= 8
	}
}

// ipHeader is an IPv4 or IPv6 header before payload; dscp goes in the
// six high bits of the TOS byte or the traffic class.
func ipHeader(src, dst netip.Addr, proto Protocol, ttl, dscp uint8, payload []byte) []byte {
	if src.Is4() {
		h := make([]byte, 20, 20+len(payload))
		h[0], h[1] = 0x45, dscp<<2
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
		binary.BigEndian.PutUint16(h[4:], wireID)
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
func (p Packet) transport() []byte {
	payload := []byte("ksc lab probe")
	switch p.Protocol {
	case TCP:
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], p.Sport)
		binary.BigEndian.PutUint16(h[2:], p.Dport)
		binary.BigEndian.PutUint32(h[4:], wireSequence)
		if p.TCPFlags&tcpFlagACK != 0 {
			binary.BigEndian.PutUint32(h[8:], wireAckseq)
		}
		h[12] = 5 << 4
		h[13] = p.TCPFlags
		binary.BigEndian.PutUint16(h[14:], wireWindow)
		return h
	case UDP:
		h := make([]byte, 8, 8+len(payload))
		binary.BigEndian.PutUint16(h[0:], p.Sport)
		binary.BigEndian.PutUint16(h[2:], p.Dport)
		binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
		return append(h, payload...)
	default:
		h := []byte{p.ICMPType, p.ICMPCode, 0, 0, wireID >> 8, wireID & 0xff, 0, wireICMPSeq}
		if p.IsICMPError() {
			// The packet it reports: a UDP datagram the receiver of the
			// error sent to its sender.
			inner := make([]byte, 8)
			binary.BigEndian.PutUint16(inner[0:], ICMPErrorInnerSport)
			binary.BigEndian.PutUint16(inner[2:], ICMPErrorInnerDport)
			binary.BigEndian.PutUint16(inner[4:], 8+uint16(len(payload)))
			full := ipHeader(p.Dst, p.Src, UDP, 64, 0, append(inner, payload...))
			binary.BigEndian.PutUint16(full[len(full)-len(payload)-2:], transportChecksum(p.Dst, p.Src, UDP, full[len(full)-len(payload)-8:]))
			return append(h, full...)
		}
		return append(h, payload...)
	}
}

const tcpFlagACK = 0x10

func checksumOffset(proto Protocol) int {
	switch proto {
	case TCP:
		return 16
	case UDP:
		return 6
	}
	return 2
}

// transportChecksum covers the pseudo-header, but for ICMP (IPv4's has
// none).
func transportChecksum(src, dst netip.Addr, proto Protocol, l4 []byte) uint16 {
	var pseudo []byte
	if proto != ICMP {
		pseudo = append(pseudo, src.AsSlice()...)
		pseudo = append(pseudo, dst.AsSlice()...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(l4)))
		pseudo = append(pseudo, 0, 0, 0, uint8(proto))
	}
	sum := checksum(sumWords(0, pseudo), l4)
	if sum == 0 && proto == UDP {
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

// IsICMPError reports an ICMP error message: one that carries the packet
// it reports, and that no kernel answers with another error.
func (p Packet) IsICMPError() bool {
	switch p.Protocol {
	case ICMP:
		switch p.ICMPType {
		case 3, 4, 5, 11, 12:
			return true
		}
	case ICMPv6:
		return p.ICMPType < 128
	}
	return false
}
