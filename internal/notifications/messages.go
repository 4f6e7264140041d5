package notifications

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"emporium/internal/event"
)

//go:embed templates/*.txt templates/*.html
var templateFiles embed.FS

// A kind of message: which event causes it and whether it also goes out by SMS.
type kind struct {
	name string // the templates' base name: templates/<name>.txt and .html
	sms  bool
}

// kinds are the messages the service sends, by the type of the event that
// causes each (API.md's list). Events of other types send nothing.
var kinds = map[string]kind{
	event.UserRegistered:  {name: "welcome"},
	event.OrderPaid:       {name: "order_paid", sms: true},
	event.OrderShipped:    {name: "order_shipped", sms: true},
	event.OrderCancelled:  {name: "order_cancelled", sms: true},
	event.PaymentRefunded: {name: "payment_refunded"},
	event.PaymentFailed:   {name: "payment_failed"},
}

// Message is a message rendered for one customer: the email's subject and
// bodies, and the SMS text ("" for kinds without one).
type Message struct {
	Subject string
	Text    string
	HTML    string
	SMS     string
}

// templateSet is one kind's templates: subject, text and sms from its .txt
// file (text/template: plain text is never escaped, and never read as HTML),
// the HTML body from its .html file within layout.html (html/template, which
// escapes whatever a customer or an admin typed: names, product names).
type templateSet struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templates are parsed once, at start; a broken template stops the build.
var templates = func() map[string]templateSet {
	sets := map[string]templateSet{}
	for _, k := range kinds {
		sets[k.name] = templateSet{
			text: texttemplate.Must(texttemplate.New(k.name).Option("missingkey=error").
				ParseFS(templateFiles, "templates/layout.txt", "templates/"+k.name+".txt")),
			html: htmltemplate.Must(htmltemplate.New(k.name).Option("missingkey=error").
				ParseFS(templateFiles, "templates/layout.html", "templates/"+k.name+".html")),
		}
	}
	return sets
}()

// view is what a template sees.
type view struct {
	Shop    string
	Subject string // for the HTML title; set once the subject is rendered
	Name    string // the customer's
	Email   string
	Order   *orderView
	Payment *paymentView
}

type orderView struct {
	Number                    string
	Lines                     []lineView
	Subtotal, Shipping, Total string
	TrackingNumber            string
	Reason                    string // why it was cancelled, in words
	Refunded                  bool
}

type lineView struct {
	Name, SKU            string
	Quantity             int
	UnitPrice, LineTotal string
}

type paymentView struct {
	OrderNumber              string // "" when no order event told it yet
	Amount, Refund, Refunded string
	FullyRefunded            bool
	Failure                  string // why it was declined, in words
}

// cancelReasons put orders.order.cancelled's reasons in words.
var cancelReasons = map[string]string{
	"customer":              "you cancelled it",
	"admin":                 "the shop cancelled it",
	"payment_window_closed": "the payment was not completed in time",
}

// failures put a declined payment's failure code in words.
var failures = map[string]string{
	"card_declined":           "your card was declined",
	"insufficient_funds":      "the card has insufficient funds",
	"expired_card":            "the card has expired",
	"incorrect_cvc":           "the card's security code is incorrect",
	"processing_error":        "an error occurred while processing the card",
	"authentication_required": "the bank asked for an authentication that was not completed",
}

// render renders the message of kind k for view v.
func render(k kind, v view) (Message, error) {
	set, ok := templates[k.name]
	if !ok {
		return Message{}, fmt.Errorf("render %s: no templates", k.name)
	}
	var m Message
	var err error
	if m.Subject, err = execText(set.text, "subject", v); err != nil {
		return Message{}, err
	}
	// A subject is one line, however a value inside it was typed.
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	v.Subject = m.Subject
	if m.Text, err = execText(set.text, "text", v); err != nil {
		return Message{}, err
	}
	var b bytes.Buffer
	if err := set.html.ExecuteTemplate(&b, "layout", v); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", k.name, err)
	}
	m.HTML = b.String()
	if k.sms {
		if m.SMS, err = execText(set.text, "sms", v); err != nil {
			return Message{}, err
		}
		m.SMS = strings.Join(strings.Fields(m.SMS), " ")
	}
	return m, nil
}

func execText(t *texttemplate.Template, name string, v view) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		return "", fmt.Errorf("render %s %s: %w", t.Name(), name, err)
	}
	return strings.TrimSpace(b.String()) + "\n", nil
}

// orderViewOf is an order event as templates show it.
func orderViewOf(o event.OrderChanged) *orderView {
	ov := &orderView{Number: o.Number, Subtotal: FormatMoney(o.Subtotal),
		Shipping: FormatMoney(o.Shipping), Total: FormatMoney(o.Total),
		TrackingNumber: o.TrackingNumber, Refunded: o.Refunded,
		Reason: cancelReasons[o.Reason]}
	if ov.Reason == "" {
		// A reason this service does not know yet, in words as best it can.
		ov.Reason = strings.ReplaceAll(o.Reason, "_", " ")
	}
	if ov.Number == "" {
		ov.Number = o.OrderID
	}
	for _, l := range o.Lines {
		ov.Lines = append(ov.Lines, lineView{Name: l.Name, SKU: l.SKU, Quantity: l.Quantity,
			UnitPrice: FormatMoney(l.UnitPrice), LineTotal: FormatMoney(l.LineTotal)})
	}
	return ov
}

// paymentViewOf is a payment event as templates show it, with the number of
// its order when known.
func paymentViewOf(p event.PaymentChanged, orderNumber string) *paymentView {
	pv := &paymentView{OrderNumber: orderNumber, Amount: FormatMoney(p.Amount)}
	if p.Refund != nil {
		pv.Refund = FormatMoney(*p.Refund)
	} else {
		pv.Refund = pv.Amount
	}
	if p.Refunded != nil {
		pv.Refunded = FormatMoney(*p.Refunded)
		pv.FullyRefunded = p.Refunded.Amount >= p.Amount.Amount
	} else {
		pv.Refunded, pv.FullyRefunded = pv.Refund, p.Refund == nil ||
			p.Refund.Amount >= p.Amount.Amount
	}
	pv.Failure = failures[p.FailureCode]
	if pv.Failure == "" {
		pv.Failure = "the payment was declined"
		if p.FailureCode != "" {
			pv.Failure += " (" + p.FailureCode + ")"
		}
	}
	return pv
}
