package events

import (
	"errors"
	"fmt"
	"reflect"
	"time"
)

// writer appends a record's fields in schema order and keeps the first error.
type writer struct {
	b   []byte
	err error
}

func (w *writer) str(field, v string) {
	if w.err == nil {
		w.b, w.err = appendString(w.b, field, v)
	}
}

func (w *writer) optStr(field string, v *string) {
	if w.err == nil {
		w.b, w.err = appendNullableString(w.b, field, v)
	}
}

func (w *writer) strs(field string, v []string) {
	if w.err == nil {
		w.b, w.err = appendStringArray(w.b, field, v)
	}
}

func (w *writer) dec(field string, v Decimal, precision, scale int) {
	if w.err == nil {
		w.b, w.err = appendDecimal(w.b, field, v, precision, scale)
	}
}

func (w *writer) optDec(field string, v *Decimal, precision, scale int) {
	if w.err == nil {
		w.b, w.err = appendNullableDecimal(w.b, field, v, precision, scale)
	}
}

func (w *writer) ts(field string, v time.Time) {
	if w.err == nil {
		w.b, w.err = appendTimestampMillis(w.b, field, v)
	}
}

func (w *writer) date(v Date) {
	if w.err == nil {
		w.b = appendInt(w.b, int32(v))
	}
}

func (w *writer) int(v int32) {
	if w.err == nil {
		w.b = appendInt(w.b, v)
	}
}

func (w *writer) bool(v bool) {
	if w.err == nil {
		w.b = appendBool(w.b, v)
	}
}

// enum appends an enum symbol's index (a generic function: methods cannot be generic).
func enum[T ~string](w *writer, field string, v T, symbols []T) {
	if w.err == nil {
		w.b, w.err = appendEnum(w.b, field, v, symbols)
	}
}

var errNoPayload = errors.New("payload: nil (set one of the topic's event records)")

// isNil reports whether an interface holds nothing or a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

type named interface{ recordName() string }

// payloadName is the record name of a payload ("" for none).
func payloadName(p named) string {
	if isNil(p) {
		return ""
	}
	return p.recordName()
}

// EncodeError is the error of AppendAvro: which event, and what in it the schema cannot hold.
type EncodeError struct {
	Topic   Topic
	EventID string
	Type    string // the payload's record name
	Err     error
}

func (e *EncodeError) Error() string {
	t := e.Type
	if t == "" {
		t = "(no payload)"
	}
	return fmt.Sprintf("encoding %s event %q (%s): %v", e.Topic, e.EventID, t, e.Err)
}

func (e *EncodeError) Unwrap() error { return e.Err }

func wrapEncodeError(t Topic, id string, p named, err error) error {
	return &EncodeError{Topic: t, EventID: id, Type: payloadName(p), Err: err}
}

func describe(e Event) string {
	return fmt.Sprintf("%s/%s key=%s id=%s", e.Topic(), e.Type(), e.Key(), e.ID())
}
