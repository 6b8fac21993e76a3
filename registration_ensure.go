package pcwebhook

import "context"

// EnsureRegistration makes the partner's registration match reg with as few writes as possible:
// it reads the registration (GET), creates it (POST) when there is none, replaces it (PUT) when it
// differs, and makes no write when it already matches. It returns the registration as the service
// last reported it.
//
// Two registrations match when their WebhookURL is identical (after trimming surrounding spaces),
// their SignatureTokenToMsSignatureHeader is equal, and their WebhookEvents hold the same set of
// names, whatever the order, duplicates or letter case. If the POST is refused with 409 Conflict
// (a registration was created meanwhile), the registration is read again and replaced with PUT
// when it differs. [Client.EnsureRegistrationChanges] does the same and also reports what
// changed.
func (c *Client) EnsureRegistration(ctx context.Context, reg Registration) (*Registration, error) {
	got, _, err := c.EnsureRegistrationChanges(ctx, reg)
	return got, err
}
