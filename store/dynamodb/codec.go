package dynamodb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/store"
)

// av returns the DynamoDB attribute value of v (S, N from the exact decimal
// text, or BOOL). v must be present.
func av(v store.Value) types.AttributeValue {
	switch v.Kind() {
	case store.KindString:
		return &types.AttributeValueMemberS{Value: v.Str()}
	case store.KindNumber:
		return &types.AttributeValueMemberN{Value: v.NumText()}
	case store.KindBool:
		return &types.AttributeValueMemberBOOL{Value: v.BoolVal()}
	}
	panic("dynamodb: attribute value of an absent store.Value")
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// encodeItem returns the DynamoDB item for it with the key attributes of k.
func encodeItem(k store.Key, it store.Item) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(it)+2)
	for name, v := range it {
		out[name] = av(v)
	}
	out[store.AttrPK], out[store.AttrSK] = str(k.PK), str(k.SK)
	return out
}

// keyOf returns the DynamoDB primary key of k.
func keyOf(k store.Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{store.AttrPK: str(k.PK), store.AttrSK: str(k.SK)}
}

// decodeItem returns the store item of a DynamoDB item (nil for nil).
func decodeItem(m map[string]types.AttributeValue) (store.Item, error) {
	if m == nil {
		return nil, nil
	}
	out := make(store.Item, len(m))
	for name, a := range m {
		v, err := decodeValue(a)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func decodeValue(a types.AttributeValue) (store.Value, error) {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		return store.S(a.Value), nil
	case *types.AttributeValueMemberN:
		return decodeNumber(a.Value)
	case *types.AttributeValueMemberBOOL:
		return store.Bool(a.Value), nil
	}
	return store.Value{}, fmt.Errorf("unsupported attribute type %T", a)
}

// decodeNumber returns the number DynamoDB sent as text. DynamoDB sends plain
// decimals without exponent, normalised (no leading or trailing zeros): they
// are taken verbatim. Anything else is parsed and canonicalised by store.N.
func decodeNumber(text string) (store.Value, error) {
	if plainDecimal(text) {
		return store.NumberText(text), nil
	}
	v, err := store.N(text)
	if err != nil {
		return store.Value{}, fmt.Errorf("number %q from DynamoDB: %w", text, err)
	}
	return v, nil
}

// plainDecimal reports whether text is -?digits(.digits)? with at most 38
// significant digits — the form store.N produces.
func plainDecimal(text string) bool {
	i := 0
	if i < len(text) && text[i] == '-' {
		i++
	}
	start, dot, digits := i, false, 0
	for ; i < len(text); i++ {
		switch c := text[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot && i > start && i+1 < len(text):
			dot = true
		default:
			return false
		}
	}
	return digits > 0 && digits <= 38
}

// Error codes of DynamoDB that the engine maps.
const (
	codeConditionalCheckFailed = "ConditionalCheckFailed"
	codeTransactionConflict    = "TransactionConflict"
	codeThrottling             = "ThrottlingError"
	codeValidation             = "ValidationError"
	codeNone                   = "None"
)

// errorCode returns the API error code of err ("" when it is not an API error).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// mapErr translates an error of a single-item call into the contract's
// errors; the AWS error stays in the chain.
func mapErr(err error) error {
	switch errorCode(err) {
	case "ConditionalCheckFailedException":
		return store.ErrConditionFailed
	case "TransactionConflictException":
		return fmt.Errorf("%w: %w", store.ErrTxConflict, err)
	case "ValidationException":
		return fmt.Errorf("%w: %w", store.ErrInvalidRequest, err)
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return apperr.Wrap(apperr.Unavailable, err, "dynamodb throttled")
	}
	return err
}

// retryableWrite reports whether a single-item write may be retried: it met
// a transaction in progress on the same item.
func retryableWrite(err error) bool {
	return errorCode(err) == "TransactionConflictException"
}

// backoff returns the wait before retry attempt n (0-based): full jitter
// over an exponential bound of 10 ms .. 1 s.
func backoff(n int) time.Duration {
	bound := 10 * time.Millisecond << min(n, 7)
	bound = min(bound, time.Second)
	return time.Duration(rand.Int64N(int64(bound)) + 1)
}
