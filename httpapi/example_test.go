package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

type depositRequest struct {
	Amount   string `json:"amount" doc:"decimal amount"`
	Currency string `json:"currency,omitempty"`
}

type depositResponse struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// A service declares each operation once: the route, its documentation and
// its types. Handlers decode with DecodeJSON and answer with WriteJSON or
// WriteError.
func Example() {
	api := httpapi.New(httpapi.Options{Title: "Order Processor", Version: "1.0.0"})
	api.Handle(httpapi.Op{
		Method: "POST", Path: "/api/v1/balance/deposit", OperationID: "deposit",
		Summary: "Deposit cash", Tags: []string{"balances"}, Auth: httpapi.AuthUser,
		Request: depositRequest{}, Response: depositResponse{}, Status: http.StatusCreated,
	}, func(w http.ResponseWriter, r *http.Request) {
		var req depositRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if req.Amount == "0" {
			httpapi.WriteError(w, r, apperr.Field("amount", "must be > 0", "value_error"))
			return
		}
		httpapi.WriteJSON(w, http.StatusCreated, depositResponse{Success: true, Message: "Successfully deposited $" + req.Amount})
	})
	srv := httptest.NewServer(api)
	defer srv.Close()

	for _, body := range []string{`{"amount":"100.00"}`, `{"amount":"0"}`, `{"amount":5}`, `[]`} {
		resp, err := http.Post(srv.URL+"/api/v1/balance/deposit/", "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(resp.StatusCode, " ", string(b))
	}
	// Output:
	// 201 {"success":true,"message":"Successfully deposited $100.00"}
	// 422 {"detail":[{"loc":["body","amount"],"msg":"must be > 0","type":"value_error"}],"code":"invalid"}
	// 422 {"detail":[{"loc":["body","amount"],"msg":"Input should be a valid string","type":"string_type"}],"code":"invalid"}
	// 422 {"detail":[{"loc":["body"],"msg":"Input should be a valid JSON object","type":"dict_type"}],"code":"invalid"}
}
