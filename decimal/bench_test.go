package decimal

import "testing"

var sinkD Decimal

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		sinkD, _ = Parse("65000.12345678")
	}
}

func BenchmarkMulAdd(b *testing.B) {
	q, p, f := MustParse("0.12345678"), MustParse("65000.50"), MustParse("1.25")
	for b.Loop() {
		sinkD = q.Mul(p).Add(f).Round(2, HalfEven)
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	d := MustParse("65000.12345678")
	for b.Loop() {
		_, _ = d.MarshalJSON()
	}
}

func BenchmarkRound(b *testing.B) {
	d := MustParse("8025.12345678")
	for b.Loop() {
		sinkD = d.Round(2, Up)
	}
}

func BenchmarkString(b *testing.B) {
	d := MustParse("65000.12345678")
	var s string
	for b.Loop() {
		s = d.String()
	}
	_ = s
}

func BenchmarkStringFixed(b *testing.B) {
	d := MustParse("8025.5")
	var s string
	for b.Loop() {
		s = d.StringFixed(2)
	}
	_ = s
}
