package dynamodb

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// vals renders expression values as "S:x", "N:1.5", "BOOL:true" for comparison.
func vals(m map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[k] = "S:" + v.Value
		case *types.AttributeValueMemberN:
			out[k] = "N:" + v.Value
		case *types.AttributeValueMemberBOOL:
			if v.Value {
				out[k] = "BOOL:true"
			} else {
				out[k] = "BOOL:false"
			}
		}
	}
	return out
}

func TestCondition(t *testing.T) {
	n := store.MustN
	cases := []struct {
		name   string
		cond   *store.Cond
		want   string
		names  map[string]string
		values map[string]string
	}{
		{"nil", nil, "", nil, nil},
		{"item exists", store.ItemExists(), "attribute_exists(#n0)", map[string]string{"#n0": "PK"}, nil},
		{"item not exists", store.ItemNotExists(), "attribute_not_exists(#n0)", map[string]string{"#n0": "PK"}, nil},
		{"attr exists", store.AttrExists("a b"), "attribute_exists(#n0)", map[string]string{"#n0": "a b"}, nil},
		{"attr not exists", store.AttrNotExists("x"), "attribute_not_exists(#n0)", map[string]string{"#n0": "x"}, nil},
		{"eq exact number", store.Eq("balance", n("10.50")), "#n0 = :v0", map[string]string{"#n0": "balance"}, map[string]string{":v0": "N:10.50"}},
		{"ne", store.Ne("s", store.S("x")), "(attribute_not_exists(#n0) OR #n0 <> :v0)", map[string]string{"#n0": "s"}, map[string]string{":v0": "S:x"}},
		{"lt", store.Lt("a", store.Int(1)), "#n0 < :v0", map[string]string{"#n0": "a"}, map[string]string{":v0": "N:1"}},
		{"le", store.Le("a", store.S("z")), "#n0 <= :v0", map[string]string{"#n0": "a"}, map[string]string{":v0": "S:z"}},
		{"gt", store.Gt("a", n("-0.5")), "#n0 > :v0", map[string]string{"#n0": "a"}, map[string]string{":v0": "N:-0.5"}},
		{"ge", store.Ge("a", n("99999999999999999999999999999999999999")), "#n0 >= :v0", map[string]string{"#n0": "a"}, map[string]string{":v0": "N:99999999999999999999999999999999999999"}},
		{"eq bool", store.Eq("b", store.Bool(true)), "#n0 = :v0", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:true"}},
		{"lt true", store.Lt("b", store.Bool(true)), "#n0 = :v0", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:false"}},
		{"lt false", store.Lt("b", store.Bool(false)), "(attribute_exists(#n0) AND attribute_not_exists(#n0))", map[string]string{"#n0": "PK"}, nil},
		{"le true", store.Le("b", store.Bool(true)), "(#n0 = :v0 OR #n0 = :v1)", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:false", ":v1": "BOOL:true"}},
		{"le false", store.Le("b", store.Bool(false)), "#n0 = :v0", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:false"}},
		{"gt false", store.Gt("b", store.Bool(false)), "#n0 = :v0", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:true"}},
		{"gt true", store.Gt("b", store.Bool(true)), "(attribute_exists(#n0) AND attribute_not_exists(#n0))", map[string]string{"#n0": "PK"}, nil},
		{"ge false", store.Ge("b", store.Bool(false)), "(#n0 = :v0 OR #n0 = :v1)", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:false", ":v1": "BOOL:true"}},
		{"ge true", store.Ge("b", store.Bool(true)), "#n0 = :v0", map[string]string{"#n0": "b"}, map[string]string{":v0": "BOOL:true"}},
		{"and or not, names shared",
			store.And(store.ItemExists(), store.Or(store.VersionIs(3), store.Not(store.AttrExists("version")))),
			"(attribute_exists(#n0) AND (#n1 = :v0 OR (NOT attribute_exists(#n1))))",
			map[string]string{"#n0": "PK", "#n1": "version"}, map[string]string{":v0": "N:3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e exprs
			if got := e.condition(tc.cond); got != tc.want {
				t.Fatalf("expression %q, want %q", got, tc.want)
			}
			if !maps.Equal(e.Names(), tc.names) {
				t.Fatalf("names %v, want %v", e.Names(), tc.names)
			}
			if got := vals(e.Values()); !maps.Equal(got, tc.values) {
				t.Fatalf("values %v, want %v", got, tc.values)
			}
			if e.Values() != nil && len(e.Values()) == 0 {
				t.Fatal("empty values map: DynamoDB rejects it")
			}
		})
	}
}

func TestBuildUpdate(t *testing.T) {
	n := store.MustN
	cases := []struct {
		name    string
		actions []store.Action
		want    string
		names   map[string]string
		values  map[string]string
	}{
		{"set", []store.Action{store.Set("a", store.S("x"))}, "SET #n0 = :v0",
			map[string]string{"#n0": "a"}, map[string]string{":v0": "S:x"}},
		{"add", []store.Action{store.Add("n", n("-0.25"))}, "SET #n0 = if_not_exists(#n0, :v0) + :v1",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "N:0", ":v1": "N:-0.25"}},
		{"set if absent", []store.Action{store.SetIfAbsent("c", store.Int(5))}, "SET #n0 = if_not_exists(#n0, :v0)",
			map[string]string{"#n0": "c"}, map[string]string{":v0": "N:5"}},
		{"remove", []store.Action{store.Remove("g")}, "REMOVE #n0", map[string]string{"#n0": "g"}, nil},
		{"mixed", []store.Action{store.Set("a", store.Bool(true)), store.Remove("g"), store.Add("n", store.Int(1))},
			"SET #n0 = :v0, #n2 = if_not_exists(#n2, :v1) + :v2 REMOVE #n1",
			map[string]string{"#n0": "a", "#n1": "g", "#n2": "n"}, map[string]string{":v0": "BOOL:true", ":v1": "N:0", ":v2": "N:1"}},
		{"nothing", nil, "REMOVE #n0", map[string]string{"#n0": noopAttr}, nil},
		// Folding several actions on one attribute, as store.ApplyActions applies them in order.
		{"set then add", []store.Action{store.Set("n", n("1.10")), store.Add("n", n("0.9"))}, "SET #n0 = :v0",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "N:2.00"}},
		{"add then add", []store.Action{store.Add("n", n("0.1")), store.Add("n", n("0.2"))}, "SET #n0 = if_not_exists(#n0, :v0) + :v1",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "N:0", ":v1": "N:0.3"}},
		{"set if absent then add", []store.Action{store.SetIfAbsent("n", store.Int(7)), store.Add("n", store.Int(1))}, "SET #n0 = if_not_exists(#n0, :v0) + :v1",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "N:7", ":v1": "N:1"}},
		{"add then set if absent", []store.Action{store.Add("n", store.Int(2)), store.SetIfAbsent("n", store.Int(9))}, "SET #n0 = if_not_exists(#n0, :v0) + :v1",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "N:0", ":v1": "N:2"}},
		{"remove then add", []store.Action{store.Remove("n"), store.Add("n", store.Int(3))}, "SET #n0 = :v0",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "N:3"}},
		{"remove then set if absent", []store.Action{store.Remove("n"), store.SetIfAbsent("n", store.S("v"))}, "SET #n0 = :v0",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "S:v"}},
		{"set then set if absent", []store.Action{store.Set("n", store.S("a")), store.SetIfAbsent("n", store.S("b"))}, "SET #n0 = :v0",
			map[string]string{"#n0": "n"}, map[string]string{":v0": "S:a"}},
		{"set then remove", []store.Action{store.Set("n", store.S("a")), store.Remove("n")}, "REMOVE #n0", map[string]string{"#n0": "n"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e exprs
			got, err := e.buildUpdate(tc.actions)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("expression %q, want %q", got, tc.want)
			}
			if !maps.Equal(e.Names(), tc.names) {
				t.Fatalf("names %v, want %v", e.Names(), tc.names)
			}
			if got := vals(e.Values()); !maps.Equal(got, tc.values) {
				t.Fatalf("values %v, want %v", got, tc.values)
			}
		})
	}
}

func TestBuildUpdateInvalid(t *testing.T) {
	nines := store.MustN("99999999999999999999999999999999999999")
	for name, actions := range map[string][]store.Action{
		"add to a set string":            {store.Set("a", store.S("x")), store.Add("a", store.Int(1))},
		"add to a string default":        {store.SetIfAbsent("a", store.S("x")), store.Add("a", store.Int(1))},
		"set then add past 38 digits":    {store.Set("a", nines), store.Add("a", store.MustN("0.1"))},
		"two adds past 38 digits":        {store.Add("a", nines), store.Add("a", nines)},
		"add a non-number (unvalidated)": {{Op: store.ActAdd, Attr: "a", Value: store.S("1")}},
	} {
		t.Run(name, func(t *testing.T) {
			var e exprs
			_, err := e.buildUpdate(actions)
			if !errors.Is(err, store.ErrInvalidRequest) {
				t.Fatalf("error %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestKeyCondition(t *testing.T) {
	cases := []struct {
		sk   store.SortCond
		want string
		vals map[string]string
	}{
		{store.SortCond{}, "#n0 = :v0", map[string]string{":v0": "S:P"}},
		{store.SortCond{Op: store.SortEq, Value: "a"}, "#n0 = :v0 AND #n1 = :v1", map[string]string{":v0": "S:P", ":v1": "S:a"}},
		{store.SortCond{Op: store.SortBeginsWith, Value: "a#"}, "#n0 = :v0 AND begins_with(#n1, :v1)", map[string]string{":v0": "S:P", ":v1": "S:a#"}},
		{store.SortCond{Op: store.SortBetween, Value: "a", Value2: "c"}, "#n0 = :v0 AND #n1 BETWEEN :v1 AND :v2", map[string]string{":v0": "S:P", ":v1": "S:a", ":v2": "S:c"}},
		{store.SortCond{Op: store.SortLt, Value: "a"}, "#n0 = :v0 AND #n1 < :v1", map[string]string{":v0": "S:P", ":v1": "S:a"}},
		{store.SortCond{Op: store.SortLe, Value: "a"}, "#n0 = :v0 AND #n1 <= :v1", map[string]string{":v0": "S:P", ":v1": "S:a"}},
		{store.SortCond{Op: store.SortGt, Value: "a"}, "#n0 = :v0 AND #n1 > :v1", map[string]string{":v0": "S:P", ":v1": "S:a"}},
		{store.SortCond{Op: store.SortGe, Value: "a"}, "#n0 = :v0 AND #n1 >= :v1", map[string]string{":v0": "S:P", ":v1": "S:a"}},
	}
	for _, tc := range cases {
		var e exprs
		if got := e.keyCondition("owner", "created", "P", tc.sk); got != tc.want {
			t.Fatalf("%+v: %q, want %q", tc.sk, got, tc.want)
		}
		wantNames := map[string]string{"#n0": "owner"}
		if tc.sk.Op != store.SortAny {
			wantNames["#n1"] = "created"
		}
		if !maps.Equal(e.Names(), wantNames) || !maps.Equal(vals(e.Values()), tc.vals) {
			t.Fatalf("%+v: names %v values %v", tc.sk, e.Names(), vals(e.Values()))
		}
	}
}

func TestNormalizeSort(t *testing.T) {
	all := store.SortCond{Op: store.SortAny}
	cases := []struct {
		in   store.SortCond
		want store.SortCond
		none bool
	}{
		{all, all, false},
		{store.SortCond{Op: store.SortEq, Value: "a"}, store.SortCond{Op: store.SortEq, Value: "a"}, false},
		{store.SortCond{Op: store.SortBeginsWith}, all, false},
		{store.SortCond{Op: store.SortGt}, all, false},
		{store.SortCond{Op: store.SortGe}, all, false},
		{store.SortCond{Op: store.SortEq}, store.SortCond{Op: store.SortEq}, true},
		{store.SortCond{Op: store.SortLt}, store.SortCond{Op: store.SortLt}, true},
		{store.SortCond{Op: store.SortLe}, store.SortCond{Op: store.SortLe}, true},
		{store.SortCond{Op: store.SortBetween, Value2: "b"}, store.SortCond{Op: store.SortLe, Value: "b"}, false},
		{store.SortCond{Op: store.SortBetween}, store.SortCond{Op: store.SortBetween}, true},
	}
	for _, tc := range cases {
		got, none := normalizeSort(tc.in)
		if got != tc.want || none != tc.none {
			t.Fatalf("normalizeSort(%+v) = %+v, %v; want %+v, %v", tc.in, got, none, tc.want, tc.none)
		}
	}
}

func reason(code string) types.CancellationReason {
	return types.CancellationReason{Code: aws.String(code), Message: aws.String("msg " + code)}
}

func TestCancellation(t *testing.T) {
	canceled := func(codes ...string) error {
		e := &types.TransactionCanceledException{Message: aws.String("Transaction cancelled")}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, reason(c))
		}
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "TransactWriteItems", Err: e}
	}
	type want int
	const (
		wNil want = iota
		wCond
		wConflict
	)
	cases := []struct {
		name    string
		err     error
		n       int
		reasons []want
		retry   bool
		errIs   error // when the result is an error, not reasons
	}{
		{"one condition failed", canceled("None", "ConditionalCheckFailed", "None"), 3, []want{wNil, wCond, wNil}, false, nil},
		{"conflict retries", canceled("None", "TransactionConflict"), 2, []want{wNil, wConflict}, true, nil},
		{"throttling retries", canceled("ThrottlingError", "None"), 2, []want{wConflict, wNil}, true, nil},
		{"failed condition is never retried", canceled("TransactionConflict", "ConditionalCheckFailed"), 2, []want{wConflict, wCond}, false, nil},
		{"empty code is none", canceled("", "ConditionalCheckFailed"), 2, []want{wNil, wCond}, false, nil},
		{"validation error", canceled("None", "ValidationError"), 2, nil, false, store.ErrInvalidRequest},
		{"other reason", canceled("ItemCollectionSizeLimitExceeded"), 1, nil, false, nil},
		{"reason count mismatch", canceled("None"), 2, nil, false, nil},
		{"validation exception", &smithy.GenericAPIError{Code: "ValidationException", Message: "bad"}, 1, nil, false, store.ErrInvalidRequest},
		{"plain error", errors.New("network down"), 1, nil, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reasons, retry, err := cancellation(tc.err, tc.n)
			if tc.reasons == nil {
				if err == nil || reasons != nil {
					t.Fatalf("got reasons %v, err %v; want an error", reasons, err)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Fatalf("error %v does not wrap %v", err, tc.errIs)
				}
				if tc.errIs == nil && apperr.KindOf(err) != apperr.Internal {
					t.Fatalf("error %v has kind %s, want internal", err, apperr.KindOf(err))
				}
				return
			}
			if err != nil || retry != tc.retry || len(reasons) != len(tc.reasons) {
				t.Fatalf("reasons %v, retry %v, err %v", reasons, retry, err)
			}
			for i, w := range tc.reasons {
				r := reasons[i]
				switch w {
				case wNil:
					if r != nil {
						t.Fatalf("reason %d = %v, want nil", i, r)
					}
				case wCond:
					if !errors.Is(r, store.ErrConditionFailed) || errors.Is(r, store.ErrTxConflict) {
						t.Fatalf("reason %d = %v, want ErrConditionFailed", i, r)
					}
				case wConflict:
					if !errors.Is(r, store.ErrTxConflict) || errors.Is(r, store.ErrConditionFailed) {
						t.Fatalf("reason %d = %v, want ErrTxConflict", i, r)
					}
				}
			}
			txe := &store.TxCanceledError{Reasons: reasons}
			if got := errors.Is(txe, store.ErrConditionFailed); got != (txe.FailedIndex() >= 0) {
				t.Fatalf("TxCanceledError.Is(ErrConditionFailed) = %v with failed index %d", got, txe.FailedIndex())
			}
		})
	}
}

func TestMapErr(t *testing.T) {
	api := func(code string) error {
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "PutItem", Err: &smithy.GenericAPIError{Code: code, Message: "m"}}
	}
	cases := []struct {
		err    error
		target error
		kind   apperr.Kind
	}{
		{api("ConditionalCheckFailedException"), store.ErrConditionFailed, apperr.Conflict},
		{api("TransactionConflictException"), store.ErrTxConflict, apperr.Conflict},
		{api("ValidationException"), store.ErrInvalidRequest, apperr.Invalid},
		{api("ProvisionedThroughputExceededException"), nil, apperr.Unavailable},
		{api("ThrottlingException"), nil, apperr.Unavailable},
		{api("ResourceNotFoundException"), nil, apperr.Internal},
	}
	for _, tc := range cases {
		got := mapErr(tc.err)
		if tc.target != nil && !errors.Is(got, tc.target) {
			t.Fatalf("mapErr(%v) = %v, want %v", tc.err, got, tc.target)
		}
		if apperr.KindOf(got) != tc.kind {
			t.Fatalf("mapErr(%v) has kind %s, want %s", tc.err, apperr.KindOf(got), tc.kind)
		}
	}
	if !retryableWrite(api("TransactionConflictException")) || retryableWrite(api("ConditionalCheckFailedException")) {
		t.Fatal("retryableWrite")
	}
}

func TestDecodeNumber(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1.5", "1.5"},
		{"-0.00000001", "-0.00000001"},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678"},
		{"0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"},
		{"1E+2", "1E+2"}, // canonicalised by store.N: compared numerically below
		{"1.50", "1.50"},
		{"100", "100"},
	}
	for _, tc := range cases {
		v, err := decodeNumber(tc.in)
		if err != nil || v.Kind() != store.KindNumber || !v.Equal(store.MustN(tc.want)) {
			t.Fatalf("decodeNumber(%q) = %v, %v", tc.in, v, err)
		}
	}
	for _, bad := range []string{"", "abc", "1.2.3", "NaN", "123456789012345678901234567890123456789"} {
		if v, err := decodeNumber(bad); err == nil {
			t.Fatalf("decodeNumber(%q) = %v, want an error", bad, v)
		}
	}
	for in, want := range map[string]bool{"1": true, "-1.5": true, "0.5": true, ".5": false, "5.": false, "-": false, "1e5": false, "--1": false, "1.5.": false} {
		if got := plainDecimal(in); got != want {
			t.Fatalf("plainDecimal(%q) = %v", in, got)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	k := store.Key{Table: "t", PK: "p", SK: "s"}
	it := store.Item{"s": store.S("x"), "n": store.MustN("-12.5"), "b": store.Bool(false), "PK": store.S("ignored")}
	got, err := decodeItem(encodeItem(k, it))
	if err != nil {
		t.Fatal(err)
	}
	want := store.Item{"s": store.S("x"), "n": store.MustN("-12.5"), "b": store.Bool(false), "PK": store.S("p"), "SK": store.S("s")}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for name, v := range want {
		if !got[name].Equal(v) || got[name].Kind() != v.Kind() {
			t.Fatalf("%s = %v, want %v", name, got[name], v)
		}
	}
	if it, err := decodeItem(nil); it != nil || err != nil {
		t.Fatalf("decodeItem(nil) = %v, %v", it, err)
	}
	if _, err := decodeItem(map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{}}); err == nil {
		t.Fatal("a list attribute decoded")
	}
}

func TestCursor(t *testing.T) {
	ix := store.IndexSchema{Name: "by_status", PK: "status", SK: "SK"}
	p := plan{kind: kindAsc, keyAttrs: keyAttrsOf(&ix), hash: hashParts("q", "1")}
	if want := []string{"status", "SK", "PK"}; !slices.Equal(p.keyAttrs, want) {
		t.Fatalf("key attributes %q, want %q", p.keyAttrs, want)
	}
	it := store.Item{"status": store.S("open"), "SK": store.S("s1"), "PK": store.S("p1"), "x": store.Int(1)}
	c := p.encodeCursor(it)
	key, err := p.decodeCursor(c, "open")
	if err != nil {
		t.Fatal(err)
	}
	if got := vals(key); !maps.Equal(got, map[string]string{"status": "S:open", "SK": "S:s1", "PK": "S:p1"}) {
		t.Fatalf("start key %v", got)
	}
	others := []plan{
		{kind: kindDesc, keyAttrs: p.keyAttrs, hash: p.hash},
		{kind: kindAsc, keyAttrs: p.keyAttrs, hash: hashParts("q", "2")},
		{kind: kindScan, keyAttrs: p.keyAttrs, hash: p.hash},
		{kind: kindAsc, keyAttrs: append(p.keyAttrs, "extra"), hash: p.hash}, // one field too few
		{kind: kindAsc, keyAttrs: p.keyAttrs[:2], hash: p.hash},              // one field too many
	}
	for i, o := range others {
		if _, err := o.decodeCursor(c, "open"); !errors.Is(err, page.ErrInvalidCursor) {
			t.Fatalf("plan %d accepted the cursor: %v", i, err)
		}
	}
	if _, err := p.decodeCursor("garbage!", "open"); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("garbage cursor: %v", err)
	}
	// A field of an empty string never comes from a real key.
	if _, err := p.decodeCursor(p.encodeCursor(store.Item{"SK": store.S("s1")}), "open"); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("cursor with an empty key value: %v", err)
	}
	if got := keyAttrsOf(nil); !slices.Equal(got, []string{"PK", "SK"}) {
		t.Fatalf("table key attributes %q", got)
	}
}

func TestBackoffBounds(t *testing.T) {
	for n := 0; n < 20; n++ {
		for i := 0; i < 50; i++ {
			d := backoff(n)
			bound := min(10<<min(n, 7), 1000) // ms
			if d <= 0 || d > time.Duration(bound)*time.Millisecond {
				t.Fatalf("backoff(%d) = %v, want (0, %d ms]", n, d, bound)
			}
		}
	}
}
