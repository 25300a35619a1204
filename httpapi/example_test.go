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

type depositIn struct {
	Body depositRequest
}

// A service declares each operation once: the route and its documentation.
// The typed handler's input and result are the documented request and
// response types; Handle decodes the request before the handler runs and
// answers its result or error.
func Example() {
	api := httpapi.New(httpapi.Options{Title: "Order Processor", Version: "1.0.0"})
	httpapi.Handle(api, httpapi.Op{
		Method: "POST", Path: "/api/v1/balance/deposit", OperationID: "deposit",
		Summary: "Deposit cash", Tags: []string{"balances"}, Auth: httpapi.AuthUser, Status: http.StatusCreated,
	}, func(r *http.Request, in *depositIn) (depositResponse, error) {
		if in.Body.Amount == "0" {
			return depositResponse{}, apperr.Field("amount", "must be > 0", "value_error")
		}
		return depositResponse{Success: true, Message: "Successfully deposited $" + in.Body.Amount}, nil
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
