package events

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The Avro binary encoding (https://avro.apache.org/docs/1.12.0/specification/#binary-encoding)
// of the types the schemas use, appended to a byte slice. Written by hand for the three fixed
// schemas: no reflection, no schema interpretation at run time, and byte-for-byte what the
// Rust codec (and Java's and Python's encoders) write; the golden tests hold it to that.

// appendLong appends v as a zigzag varint (Avro int and long share it).
func appendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func appendInt(b []byte, v int32) []byte { return appendLong(b, int64(v)) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendRawBytes appends Avro bytes: a long length, then the bytes.
func appendRawBytes(b, v []byte) []byte {
	b = appendLong(b, int64(len(v)))
	return append(b, v...)
}

// appendString appends Avro string; the text must be UTF-8 (Avro says so; readers refuse
// anything else).
func appendString(b []byte, field, v string) ([]byte, error) {
	if !utf8.ValidString(v) {
		return b, fmt.Errorf("%s: not valid UTF-8", field)
	}
	b = appendLong(b, int64(len(v)))
	return append(b, v...), nil
}

// appendNullableString appends the union ["null","string"]: branch 0 for nil, 1 and the text.
func appendNullableString(b []byte, field string, v *string) ([]byte, error) {
	if v == nil {
		return append(b, 0), nil
	}
	b = append(b, 2) // zigzag(1)
	return appendString(b, field, *v)
}

// appendStringArray appends an array of strings: one block of len(v) items, then the empty
// block that ends the array (nothing but the end for an empty array).
func appendStringArray(b []byte, field string, v []string) ([]byte, error) {
	var err error
	if len(v) > 0 {
		b = appendLong(b, int64(len(v)))
		for i, s := range v {
			if b, err = appendString(b, field, s); err != nil {
				return b, fmt.Errorf("%s[%d]: %w", field, i, err)
			}
		}
	}
	return append(b, 0), nil
}

// appendTimestampMillis appends a timestamp-millis long: milliseconds since the epoch, UTC.
// Sub-millisecond precision is dropped (floor). The zero time.Time is refused: it is always a
// field left unset (year 1 would be -62135596800000 ms).
func appendTimestampMillis(b []byte, field string, t time.Time) ([]byte, error) {
	if t.IsZero() {
		return b, fmt.Errorf("%s: not set (zero time.Time)", field)
	}
	return appendLong(b, t.UnixMilli()), nil
}

// appendEnum appends the index of sym among symbols.
func appendEnum[T ~string](b []byte, field string, sym T, symbols []T) ([]byte, error) {
	for i, s := range symbols {
		if s == sym {
			return appendInt(b, int32(i)), nil
		}
	}
	return b, fmt.Errorf("%s: %q is not one of %v", field, string(sym), symbols)
}

// Date is an Avro date (logicalType "date"): a UTC calendar day, as days since 1970-01-01.
type Date int32

// NewDate returns the date of year, month and day (normalized as time.Date does).
func NewDate(year int, month time.Month, day int) Date {
	return DateOf(time.Date(year, month, day, 0, 0, 0, 0, time.UTC))
}

// DateOf returns the UTC calendar day of t.
func DateOf(t time.Time) Date {
	secs := t.Unix()
	days := secs / 86400
	if secs%86400 < 0 {
		days-- // floor for days before 1970
	}
	return Date(days)
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// Time returns midnight UTC of the day.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the day as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// Decimal is an exact decimal number as text, e.g. "20000.00", "-0.01", "12.3456": what the
// schemas' money and quantity fields (Avro decimal on bytes) hold. It is never a float: the
// text is converted to the field's scale exactly, and encoding fails (instead of rounding)
// when it has more significant decimals than the field's scale, is out of the field's
// precision, or is not a plain decimal number (no exponent, no thousands separators).
// Trailing zeros beyond the scale are exact and accepted ("12.340000" at scale 2 is 12.34);
// fewer decimals than the scale are padded ("20000" at scale 2 is 20000.00).
type Decimal string

// ErrDecimal is wrapped by every error about a Decimal's text.
var ErrDecimal = errors.New("invalid decimal")

// maxPrecision is the largest precision the int64 arithmetic below holds (10^18 < 2^63); the
// schemas use 18 and 7.
const maxPrecision = 18

// Unscaled returns the decimal as an integer at scale (d × 10^scale), checking that it fits
// precision digits; the rules are those of the Decimal type.
func (d Decimal) Unscaled(precision, scale int) (int64, error) {
	if precision < 1 || precision > maxPrecision || scale < 0 || scale > precision {
		return 0, fmt.Errorf("%w: decimal(%d,%d) is not supported (precision 1..%d, 0 <= scale <= precision)",
			ErrDecimal, precision, scale, maxPrecision)
	}
	bad := func(why string) error { return fmt.Errorf("%w: %q %s", ErrDecimal, string(d), why) }
	s := strings.TrimSpace(string(d))
	negative := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		negative = s[0] == '-'
		s = s[1:]
	}
	intPart, fracPart, _ := strings.Cut(s, ".")
	if intPart == "" && fracPart == "" {
		return 0, bad("is not a decimal number")
	}
	limit := int64(math.Pow10(precision)) // exact for precision <= 18
	var v int64
	push := func(c byte) error {
		if c < '0' || c > '9' {
			return bad("is not a plain decimal number")
		}
		digit := int64(c - '0')
		if v > (limit-1-digit)/10 { // v*10 + digit would reach 10^precision (no overflow)
			return bad(fmt.Sprintf("does not fit decimal(%d,%d)", precision, scale))
		}
		v = v*10 + digit
		return nil
	}
	for i := 0; i < len(intPart); i++ {
		if err := push(intPart[i]); err != nil {
			return 0, err
		}
	}
	for i := 0; i < len(fracPart); i++ {
		c := fracPart[i]
		if i < scale {
			if err := push(c); err != nil {
				return 0, err
			}
		} else if c != '0' {
			if c < '0' || c > '9' {
				return 0, bad("is not a plain decimal number")
			}
			return 0, bad(fmt.Sprintf("has more than %d decimals; it is never rounded: round it before encoding", scale))
		}
	}
	for i := len(fracPart); i < scale; i++ {
		if err := push('0'); err != nil {
			return 0, err
		}
	}
	if negative {
		v = -v
	}
	return v, nil
}

// appendDecimal appends an Avro decimal on bytes: the unscaled integer as the shortest
// big-endian two's complement (at least one byte: 0 is 0x00), as Java's
// BigInteger.toByteArray and the Rust codec write it.
func appendDecimal(b []byte, field string, d Decimal, precision, scale int) ([]byte, error) {
	v, err := d.Unscaled(precision, scale)
	if err != nil {
		return b, fmt.Errorf("%s: %w", field, err)
	}
	var be [8]byte
	for i := 0; i < 8; i++ {
		be[i] = byte(v >> (56 - 8*i))
	}
	start := 0
	for start < 7 {
		x, next := be[start], be[start+1]
		if (x == 0x00 && next&0x80 == 0) || (x == 0xff && next&0x80 != 0) {
			start++
		} else {
			break
		}
	}
	return appendRawBytes(b, be[start:]), nil
}

// appendNullableDecimal appends the union ["null", decimal].
func appendNullableDecimal(b []byte, field string, d *Decimal, precision, scale int) ([]byte, error) {
	if d == nil {
		return append(b, 0), nil
	}
	return appendDecimal(append(b, 2), field, *d, precision, scale)
}

// requireNonEmpty refuses an empty string where the pipeline needs one (ids and keys).
func requireNonEmpty(field, v string) error {
	if v == "" {
		return fmt.Errorf("%s: empty", field)
	}
	return nil
}
