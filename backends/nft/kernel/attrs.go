package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// attrs lays out netlink attributes in one buffer; a nested one gets its
// length when closed, once its content is in.
type attrs struct {
	b        []byte
	overflow bool // a nested attribute outgrew its 16-bit length
}

// expression writes an expression's name and opens its data.
func (a *attrs) expression(name string) int {
	a.str(unix.NFTA_EXPR_NAME, name)
	return a.open(unix.NFTA_EXPR_DATA)
}

func (a *attrs) open(typ uint16) int {
	start := len(a.b)
	a.b = appendAttrHeader(a.b, 0, typ|unix.NLA_F_NESTED)
	return start
}

func (a *attrs) close(start int) {
	n := len(a.b) - start
	a.overflow = a.overflow || n > 0xffff
	binary.NativeEndian.PutUint16(a.b[start:], uint16(n))
}

func (a *attrs) u32(typ uint16, v uint32) {
	a.b = binary.BigEndian.AppendUint32(appendAttrHeader(a.b, 8, typ), v)
}

func (a *attrs) u64(typ uint16, v uint64) {
	a.b = binary.BigEndian.AppendUint64(appendAttrHeader(a.b, 12, typ), v)
}

func (a *attrs) bytes(typ uint16, data []byte) {
	a.overflow = a.overflow || 4+len(data) > 0xffff
	a.b = appendAttrHeader(a.b, 4+len(data), typ)
	a.b = append(a.b, data...)
	a.b = append(a.b, make([]byte, nlaAlign(len(data))-len(data))...)
}

// data is the nested attribute typ holding value as its NFTA_DATA_VALUE.
func (a *attrs) data(typ uint16, value []byte) {
	start := a.open(typ)
	a.bytes(unix.NFTA_DATA_VALUE, value)
	a.close(start)
}

// str is s as nft's names go: with a NUL at the end.
func (a *attrs) str(typ uint16, s string) {
	a.b = appendAttrHeader(a.b, 4+len(s)+1, typ)
	a.b = append(a.b, s...)
	a.b = append(a.b, make([]byte, nlaAlign(len(s)+1)-len(s))...)
}

func appendAttrHeader(b []byte, length int, typ uint16) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(length))
	return binary.NativeEndian.AppendUint16(b, typ)
}

func nlaAlign(n int) int { return (n + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1) }
