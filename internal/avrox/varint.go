package avrox

import (
	"encoding/binary"
	"math"
)

// ReadLong decodes one zig-zag varint (an Avro int or long) from the front of
// b and returns it with the number of bytes read. It fails with ErrTruncated
// when b ends inside the varint and ErrCorrupt when the varint is longer than
// ten bytes or overflows 64 bits.
func ReadLong(b []byte) (int64, int, error) {
	var u uint64
	var shift uint
	for i := 0; i < len(b); i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0, ErrCorrupt
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1, nil
		}
		shift += 7
		if i == 9 {
			return 0, 0, ErrCorrupt
		}
	}
	return 0, 0, ErrTruncated
}

// ReadInt is ReadLong for an Avro int: the value must fit in 32 bits.
func ReadInt(b []byte) (int32, int, error) {
	v, n, err := ReadLong(b)
	if err != nil {
		return 0, 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, 0, ErrCorrupt
	}
	return int32(v), n, nil
}

// AppendLong appends v as a zig-zag varint (the encoding of Avro int and long).
func AppendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// AppendBytes appends b as an Avro bytes or string value (length, then bytes).
func AppendBytes(dst, b []byte) []byte {
	dst = AppendLong(dst, int64(len(b)))
	return append(dst, b...)
}

// AppendString is AppendBytes for a string.
func AppendString(dst []byte, s string) []byte {
	dst = AppendLong(dst, int64(len(s)))
	return append(dst, s...)
}

// AppendFloat appends an Avro float (4 bytes, little-endian IEEE 754).
func AppendFloat(dst []byte, f float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(f))
}

// AppendDouble appends an Avro double (8 bytes, little-endian IEEE 754).
func AppendDouble(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// readLen reads a length prefix and checks that the announced number of
// bytes is present after it. It returns the length and the prefix size.
func readLen(b []byte) (int, int, error) {
	l, n, err := ReadLong(b)
	if err != nil {
		return 0, 0, err
	}
	if l < 0 {
		return 0, 0, ErrCorrupt
	}
	if l > int64(len(b)-n) {
		return 0, 0, ErrTruncated
	}
	return int(l), n, nil
}
