package dao

import (
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// TimeLayout is how timestamps are stored: UTC, fixed microseconds, so that
// stored text sorts in time order (entity.TimeLayout).
const TimeLayout = entity.TimeLayout

func tsv(t time.Time) store.Value { return store.S(entity.FormatTime(t)) }

func num(d decimal.Decimal) store.Value { return store.NumberText(d.String()) }

// reader decodes typed attributes of one item, remembering the first error.
type reader struct {
	it  store.Item
	err error
}

func (r *reader) str(name string) string { return r.it.Str(name) }

func (r *reader) dec(name string) decimal.Decimal {
	v, ok := r.it[name]
	if !ok {
		return decimal.Zero
	}
	d, err := decimal.Parse(v.NumText())
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s of %s/%s: %w", name, r.it.Str(store.AttrPK), r.it.Str(store.AttrSK), err)
	}
	return d
}

func (r *reader) time(name string) time.Time {
	s := r.it.Str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := entity.ParseTimeText(s)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("attribute %s: %w", name, err)
	}
	return t
}

func (r *reader) int(name string) int64 { return r.it.Int(name) }
