package store

import "testing"

// An order's balance update: 10 actions on a stored balance of 14 attributes.
func BenchmarkApplyActionsBalance(b *testing.B) {
	k := Key{Table: "users", PK: "USER#alice", SK: "BALANCE#USD"}
	old := Item{AttrPK: S(k.PK), AttrSK: S(k.SK), "current_balance": NumberText("1000.00"),
		"held_balance": NumberText("0.00"), "available_balance": NumberText("1000.00"), "version": Int(7),
		"updated_at": S("2026-11-26T03:00:00.000000Z"), "created_at": S("2026-11-20T03:00:00.000000Z"),
		"username": S("alice"), "currency": S("USD"), "total_deposits": NumberText("1000.00"),
		"total_withdrawals": NumberText("0.00"), "daily": S("x"), "extra": S("y")}
	acts := []Action{Add("current_balance", NumberText("-10.01")), Add("held_balance", NumberText("0")),
		Add("available_balance", NumberText("-10.01")), Add("version", Int(1)),
		Set("updated_at", S("2026-11-26T03:00:01.000000Z")), SetIfAbsent("created_at", S("x")),
		SetIfAbsent("username", S("alice")), SetIfAbsent("currency", S("USD")),
		SetIfAbsent("total_deposits", NumberText("0")), SetIfAbsent("total_withdrawals", NumberText("0"))}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ApplyActions(k, old, acts); err != nil {
			b.Fatal(err)
		}
	}
}
