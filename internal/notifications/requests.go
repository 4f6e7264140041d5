package notifications

import (
	"net/http"

	"emporium/internal/platform/errs"
	"emporium/internal/platform/web"
)

// listRequest is a delivery list's query: the page, and the filters status
// and channel (and, for admins, customer_id). Unknown parameters are
// ignored, as everywhere in the API.
type listRequest struct {
	page   web.Page
	filter DeliveryFilter
}

// listRequestFrom reads and checks a list's query; each bad parameter is a
// 422 naming it.
func listRequestFrom(r *http.Request, admin bool) (listRequest, error) {
	var v errs.Validation
	q := r.URL.Query()
	in := listRequest{filter: DeliveryFilter{Status: q.Get("status"), Channel: q.Get("channel")}}
	page, err := web.PageFrom(r)
	if err != nil {
		return listRequest{}, err
	}
	in.page = page
	switch in.filter.Status {
	case "", StatusPending, StatusSent, StatusFailed:
	default:
		v.Add("status", "must be pending, sent or failed")
	}
	switch in.filter.Channel {
	case "", ChannelEmail, ChannelSMS:
	default:
		v.Add("channel", "must be email or sms")
	}
	if admin {
		in.filter.CustomerID = q.Get("customer_id")
	}
	return in, v.Err()
}
