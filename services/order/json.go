package order

import "encoding/json"

// mustJSON encodes a request the decoder produced (it always encodes).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
