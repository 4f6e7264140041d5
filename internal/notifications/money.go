package notifications

import (
	"strconv"
	"strings"

	"golang.org/x/text/currency"

	"emporium/internal/event"
)

// symbols are the signs written before an amount for the currencies a shop
// most often sells in; any other currency is written as its code.
var symbols = map[string]string{
	"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$",
	"INR": "₹", "KRW": "₩", "BRL": "R$", "MXN": "MX$", "CNY": "CN¥",
}

// FormatMoney writes an amount of minor units in its currency for a reader,
// with the currency's own number of decimals (ISO 4217: two for USD, none for
// JPY, three for KWD) and thousands separated by commas: $1,234.56, ¥1,999,
// KWD 1.500. An unknown currency code is taken to have two decimals.
func FormatMoney(m event.Money) string {
	scale := 2
	if u, err := currency.ParseISO(m.Currency); err == nil {
		scale, _ = currency.Standard.Rounding(u)
	}
	amount := m.Amount
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	digits := strconv.FormatInt(amount, 10)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-scale], digits[len(digits)-scale:]
	var b strings.Builder
	b.WriteString(sign)
	if s, ok := symbols[m.Currency]; ok {
		b.WriteString(s)
	} else {
		b.WriteString(m.Currency + " ")
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if scale > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}
