package payments

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"unicode/utf8"

	"emporium/internal/platform/errs"
)

// maxAmount bounds a payment: Stripe's own limit for a card payment in a
// two-decimal currency (999,999.99).
const maxAmount = 99_999_999

// CreateRequest is the internal create's body.
type CreateRequest struct {
	OrderID    string `json:"order_id"`
	CustomerID string `json:"customer_id"`
	Amount     Money  `json:"amount"`
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks the fields one by one.
func (in *CreateRequest) Validate() error {
	var v errs.Validation
	checkID(&v, "order_id", in.OrderID)
	checkID(&v, "customer_id", in.CustomerID)
	v.Check(in.Amount.Amount >= 1 && in.Amount.Amount <= maxAmount, "amount.amount",
		"must be from 1 to 99999999 minor units")
	v.Check(currencyPattern.MatchString(in.Amount.Currency), "amount.currency", "must be an ISO 4217 code such as USD")
	return v.Err()
}

// check validates in, and that it is in the store's currency.
func (in *CreateRequest) check(currency string) error {
	if err := in.Validate(); err != nil {
		return err
	}
	if in.Amount.Currency != currency {
		return errs.Invalidf("amount.currency", "must be the store's currency, %s", currency)
	}
	return nil
}

func checkID(v *errs.Validation, field, id string) {
	v.Check(id != "" && len(id) <= 100, field, "must be 1 to 100 characters")
}

// ConfirmRequest is the public confirm's body.
type ConfirmRequest struct {
	PaymentMethod string `json:"payment_method"`
}

// Validate checks the payment method's form; whether the provider knows it
// is the provider's to say.
func (in *ConfirmRequest) Validate() error {
	var v errs.Validation
	v.Check(in.PaymentMethod != "" && len(in.PaymentMethod) <= 255, "payment_method",
		"must be a payment method id of 1 to 255 characters, such as pm_card_visa")
	return v.Err()
}

// RefundRequest is the internal refund's body.
type RefundRequest struct {
	Amount *RefundAmount `json:"amount"`
	Reason string        `json:"reason"`
}

// RefundAmount is a refund's amount: minor units of the payment's currency,
// sent as an integer or as money ({"amount": 500, "currency": "USD"}).
type RefundAmount struct {
	Amount   int64
	Currency string // "" when sent as an integer
}

// UnmarshalJSON takes an integer or a money object.
func (a *RefundAmount) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] != '{' {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return &json.UnmarshalTypeError{Value: "number " + string(b), Type: typeOfInt64}
		}
		a.Amount, a.Currency = n, ""
		return nil
	}
	var m struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	a.Amount, a.Currency = m.Amount, m.Currency
	return nil
}

var typeOfInt64 = reflect.TypeFor[int64]()

// Validate checks the fields one by one.
func (in *RefundRequest) Validate() error {
	var v errs.Validation
	if in.Amount != nil {
		v.Check(in.Amount.Amount >= 1, "amount", "must be at least 1 minor unit")
	}
	v.Check(in.Reason != "" && utf8.RuneCountInString(in.Reason) <= 200, "reason", "must be 1 to 200 characters")
	return v.Err()
}

// key identifies the request among a payment's refunds: its amount ("full"
// when absent) and reason.
func (in *RefundRequest) key() string {
	amount := "full"
	if in.Amount != nil {
		amount = strconv.FormatInt(in.Amount.Amount, 10)
	}
	return amount + ":" + in.Reason
}
