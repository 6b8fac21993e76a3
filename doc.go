// Package pcwebhook receives Microsoft Partner Center webhooks.
//
// It decodes every documented event into a typed struct ([ParseEvent], [Event.Typed]), tolerant
// of the quirks real payloads have: names in any letter case, PascalCase or camelCase fields,
// leading spaces, dates with or without an offset, and IDs parsed from the ResourceUri whatever
// its host and version prefix. Unknown event names decode too, so that events Partner Center adds
// later are never rejected.
package pcwebhook
